"""Hybrid retrieval: several retrievers over one corpus, fused by weighted reciprocal rank.

Lexical (BM25) and dense (embedding) retrievers miss different passages: BM25 needs the
query's words, embeddings find paraphrases but blur rare names. Their scores are not
comparable (BM25 is unbounded, cosine lies in [-1, 1]), so the lists are fused by rank,
with the same fusion ``Retrieve`` uses for several queries (:mod:`lmdsl.retrievers.fusion`).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lmdsl.errors import ConfigError, PluginError, UsageTypeError
from lmdsl.retrievers.fusion import RRF_K, reciprocal_rank_fusion
from lmdsl.retrievers.passage import Passage, retrieve_batch

DEFAULT_RETRIEVERS = ("bm25", "qdrant")


class HybridRetriever:
    """``HybridRetriever(corpus, retrievers=("bm25", "qdrant"), weights=None, k=3, depth=None, ...)``.

    ``retrievers`` are registered retriever names, each built with ``corpus=corpus`` plus its
    entry in ``options`` (``{"qdrant": {"collection": "c"}}``), or retriever objects used as
    they are. ``embedder`` (a model name or an embedder) goes to every named retriever that
    takes an ``embedder`` option. Each retriever returns its top ``depth`` passages (default
    ``max(20, 2 * k)``); a passage scores ``sum(weight_i / (rrf_k + rank_i))`` over the lists
    it is in, and the best ``k`` are returned with those fused scores. ``weights`` default to
    1 each; a weight of 0 leaves that retriever out.
    """

    def __init__(
        self,
        corpus: str | os.PathLike[str] | Iterable[Mapping[str, Any]] | None = None,
        *,
        retrievers: Sequence[Any] = DEFAULT_RETRIEVERS,
        weights: Sequence[float] | None = None,
        k: int = 3,
        depth: int | None = None,
        rrf_k: int = RRF_K,
        embedder: Any = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ):
        if isinstance(retrievers, str | bytes) or not retrievers:
            raise ConfigError(f"retrievers must be a non-empty list of names or retrievers, got {retrievers!r}")
        self.k = _positive("k", k, allow_zero=True)
        self.depth = _positive("depth", depth if depth is not None else max(20, 2 * self.k))
        self.rrf_k = _positive("rrf_k", rrf_k)
        self.weights = _weights(weights, len(retrievers))
        options = dict(options or {})
        unknown = sorted(set(options) - {r for r in retrievers if isinstance(r, str)})
        if unknown:
            raise ConfigError(f"options for {unknown}, which are not among the retrievers {list(retrievers)}")
        if not isinstance(corpus, str | os.PathLike) and corpus is not None:
            corpus = list(corpus)  # every retriever reads the same rows
        self.names: list[str] = []
        self.retrievers: list[Any] = []
        for spec in retrievers:
            if isinstance(spec, str):
                name = spec
                retriever = _build(spec, corpus, self.depth, embedder, dict(options.get(spec, {})))
            elif callable(spec):
                name, retriever = type(spec).__name__, spec
            else:
                raise ConfigError(f"a retriever must be a registered name or callable, got {type(spec).__name__}")
            self.names.append(name)
            self.retrievers.append(retriever)
        self._active = [i for i, w in enumerate(self.weights) if w > 0]

    @property
    def index_status(self) -> str:
        """``loaded`` when every part loaded a stored index, else each part's status (``bm25=built, ...``)."""
        statuses = [getattr(r, "index_status", "memory") for r in self.retrievers]
        if len(set(statuses)) == 1:
            return statuses[0]
        return ", ".join(f"{n}={s}" for n, s in zip(self.names, statuses))

    def __call__(self, query: str, k: int | None = None) -> list[Passage]:
        return self.batch([query], k)[0]

    def batch(self, queries: Sequence[str], k: int | None = None) -> list[list[Passage]]:
        if isinstance(queries, str):
            raise UsageTypeError("batch() takes a list of queries; call the retriever itself for one query")
        k = self.k if k is None else _positive("k", k, allow_zero=True)
        if not queries:
            return []
        depth = max(self.depth, k)
        per_retriever = [retrieve_batch(self.retrievers[i], list(queries), depth) for i in self._active]
        weights = [self.weights[i] for i in self._active]
        out = []
        for q in range(len(queries)):
            passages, scores = reciprocal_rank_fusion([hits[q] for hits in per_retriever], rrf_k=self.rrf_k,
                                                      weights=weights)
            out.append([Passage(text=p.text, title=p.title, id=p.id, score=s)
                        for p, s in zip(passages[:k], scores[:k])])
        return out

    def close(self) -> None:
        """Close the parts that hold something open (a local Qdrant store)."""
        for retriever in self.retrievers:
            close = getattr(retriever, "close", None)
            if callable(close):
                close()

    def __copy__(self) -> HybridRetriever:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> HybridRetriever:
        return self

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}×{w:g}" for n, w in zip(self.names, self.weights))
        return f"HybridRetriever({parts}, k={self.k}, depth={self.depth})"


def _build(name: str, corpus: Any, depth: int, embedder: Any, options: dict[str, Any]) -> Any:
    from lmdsl.plugins import plugin_manager

    try:
        factory = plugin_manager().registry("retrievers").get(name)
    except PluginError as exc:
        hint = " (pip install lmdsl-qdrant, or choose retrievers=[...])" if name == "qdrant" else ""
        raise ConfigError(f"hybrid: {exc}{hint}") from None
    if corpus is not None:
        options.setdefault("corpus", corpus)
    options.setdefault("k", depth)
    if embedder is not None and "embedder" not in options and _takes(factory, "embedder"):
        options["embedder"] = embedder
    return factory(**options)


def _takes(factory: Any, option: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return option in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        kind = "non-negative" if allow_zero else "positive"
        raise ConfigError(f"{name} must be a {kind} integer, got {value!r}")
    return value


def _weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0] * n
    if isinstance(weights, str | bytes) or len(weights) != n:
        raise ConfigError(f"weights must be {n} numbers, one per retriever, got {weights!r}")
    out = []
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, int | float) or not w >= 0:
            raise ConfigError(f"weights must be non-negative numbers, got {weights!r}")
        out.append(float(w))
    if not any(out):
        raise ConfigError("weights: at least one retriever needs a weight above 0")
    return out
