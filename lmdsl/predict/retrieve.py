"""`Retrieve`: call the configured retriever; a module so programs with retrieval compile."""

from __future__ import annotations

import asyncio
import contextvars
import copy
from typing import Any

from lmdsl import settings
from lmdsl.errors import ConfigError, UsageError
from lmdsl.primitives import Prediction
from lmdsl.program import Module
from lmdsl.program import trace as _trace
from lmdsl.retrievers.fusion import RRF_K, dedupe, reciprocal_rank_fusion


class _Fetched:
    """A retriever answering from results fetched ahead by :meth:`Retrieve.aforward`."""

    def __init__(self, hits: dict[str, list[Any]]):
        self.hits = hits

    def __call__(self, query: str, k: int) -> list[Any]:
        return self.hits[query]


_prefetched: contextvars.ContextVar[_Fetched | None] = contextvars.ContextVar("lmdsl_retrieved", default=None)


class Retrieve(Module):
    """``Retrieve(k=3)(query)`` -> Prediction with ``.passages`` (text) and ``.titles``/``.ids``/``.scores``.

    Uses ``Retrieve(k, retriever=...)`` or else ``lmdsl.configure(retriever=...)``.

    Several queries (a list) are retrieved together (one ``batch`` call when the retriever has
    one) and their top ``k`` lists merged by reciprocal rank fusion: a passage scores
    ``sum(1 / (RRF_K + rank))`` over the lists it appears in (rank 1 = a list's best), since
    raw scores such as BM25's are not comparable between queries. Passages are deduplicated
    by id, else title, else text; ties go to the passage with the better best rank, then to
    the earlier query. The merged list is not cut back to ``k``, and its ``.scores`` are the
    fused scores. A single query keeps the retriever's own order, top ``k`` and scores.
    """

    #: The constant of reciprocal rank fusion (see :mod:`lmdsl.retrievers.fusion`).
    RRF_K = RRF_K

    def __init__(self, k: int = 3, *, retriever: Any = None, with_titles: bool = True):
        if not isinstance(k, int) or k < 1:
            raise UsageError(f"Retrieve: k must be a positive integer, got {k!r}")
        self.k = k
        self.retriever = retriever
        self.with_titles = with_titles

    def __deepcopy__(self, memo: dict[int, Any]) -> Retrieve:
        # Optimizers deep-copy programs; the retriever (an index, often with locks) is shared.
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            new.__dict__[key] = value if key == "retriever" else copy.deepcopy(value, memo)
        return new

    def _retriever(self) -> Any:
        prefetched = _prefetched.get()
        if prefetched is not None:  # aforward fetched this call's results already
            return prefetched
        retriever = self.retriever or settings.get("retriever")
        if retriever is None:
            raise ConfigError(
                "Retrieve: no retriever configured; use lmdsl.configure(retriever="
                "lmdsl.get_retriever('bm25', corpus='corpus.jsonl')), Retrieve(k, retriever=...), "
                "or --retriever bm25 -R corpus=corpus.jsonl on the CLI"
            )
        return retriever

    async def aforward(self, query: str | list[str], k: int | None = None) -> Prediction:
        """:meth:`forward` for async code. A retriever with ``async def acall(query, k)`` (a remote
        index) is awaited, all queries at once; an in-process one such as BM25 answers inline:
        its milliseconds of CPU work would not run faster in a thread."""
        acall = getattr(self._retriever(), "acall", None)
        if acall is None:
            return self.forward(query, k)
        queries = [query] if isinstance(query, str) else [q for q in query if q]
        hits = await asyncio.gather(*(acall(q, k or self.k) for q in queries))
        token = _prefetched.set(_Fetched(dict(zip(queries, hits, strict=True))))
        try:
            return self.forward(query, k)
        finally:
            _prefetched.reset(token)

    def forward(self, query: str | list[str], k: int | None = None) -> Prediction:
        k = k or self.k
        retriever = self._retriever()
        queries = [query] if isinstance(query, str) else [q for q in query if q]
        if not queries:
            raise UsageError("Retrieve: empty query")
        batch = getattr(retriever, "batch", None)
        results = batch(queries, k) if batch is not None and len(queries) > 1 else [retriever(q, k) for q in queries]
        if len(queries) == 1:
            passages = dedupe(results[0])[:k]
            scores = [p.score for p in passages]
        else:
            passages, scores = reciprocal_rank_fusion(results, rrf_k=self.RRF_K)
        prediction = Prediction(
            passages=[p.long_text if self.with_titles else p.text for p in passages],
            titles=[p.title for p in passages],
            ids=[p.id for p in passages],
            scores=scores,
        )
        _trace.record(self, {"query": query, "k": k}, prediction)
        return prediction
