"""Reciprocal rank fusion: one ranking from several, by rank rather than by score.

Shared by ``Retrieve`` (several queries against one retriever) and the ``hybrid`` retriever
(one query against several retrievers), since in both cases the raw scores are not
comparable between lists (BM25's grow with the rarity of a query's words, cosine
similarities live in [-1, 1]). Kept free of heavy imports: ``Retrieve`` loads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmdsl.errors import UsageError

#: The constant of reciprocal rank fusion (Cormack et al., 2009): damps the weight of the very
#: top ranks so that one list's first hit does not outweigh agreement between lists.
RRF_K = 60


def passage_key(passage: Any) -> str:
    """What makes two hits the same passage: its id, else its title, else its text."""
    return passage.id or passage.title or passage.text


def dedupe(hits: Sequence[Any]) -> list[Any]:
    """One result list in its own order, each passage once (its first, best-ranked, occurrence)."""
    seen: dict[str, Any] = {}
    for p in hits:
        seen.setdefault(passage_key(p), p)
    return list(seen.values())


def reciprocal_rank_fusion(
    results: Sequence[Sequence[Any]], *, rrf_k: int = RRF_K, weights: Sequence[float] | None = None
) -> tuple[list[Any], list[float]]:
    """Fuse result lists: passages best first, and their fused scores.

    A passage scores ``sum(weight_i / (rrf_k + rank_i))`` over the lists it appears in (rank 1 =
    a list's best; ``weights`` default to 1 each). Ties go to the passage with the better best
    rank, then to the earlier list.
    """
    if weights is None:
        weights = [1.0] * len(results)
    elif len(weights) != len(results):
        raise UsageError(f"{len(weights)} weights for {len(results)} result lists")
    lists = [dedupe(hits) for hits in results]
    passages: dict[str, Any] = {}
    fused: dict[str, float] = {}
    # Rank-major order (every list's first hit, then every second hit, ...): the stable sort
    # below then breaks ties by best rank, then by list order.
    for rank in range(max((len(hits) for hits in lists), default=0)):
        for hits, weight in zip(lists, weights):
            if rank < len(hits):
                key = passage_key(hits[rank])
                passages.setdefault(key, hits[rank])
                fused[key] = fused.get(key, 0.0) + weight / (rrf_k + rank + 1)
    order = sorted(passages, key=lambda key: -round(fused[key], 12))  # equal rank sets tie exactly
    return [passages[key] for key in order], [fused[key] for key in order]
