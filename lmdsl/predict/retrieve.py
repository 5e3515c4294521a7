"""`Retrieve`: call the configured retriever; a module so programs with retrieval compile."""

from __future__ import annotations

import copy
from typing import Any

from lmdsl import settings
from lmdsl.errors import ConfigError
from lmdsl.primitives import Prediction
from lmdsl.program import Module
from lmdsl.program import trace as _trace


class Retrieve(Module):
    """``Retrieve(k=3)(query)`` -> Prediction with ``.passages`` (text) and ``.titles``/``.ids``/``.scores``.

    Uses ``Retrieve(k, retriever=...)`` or else ``lmdsl.configure(retriever=...)``. Several
    queries (a list) are retrieved together and their passages merged, best first, without
    duplicates.
    """

    def __init__(self, k: int = 3, *, retriever: Any = None, with_titles: bool = True):
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"Retrieve: k must be a positive integer, got {k!r}")
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
        retriever = self.retriever or settings.get("retriever")
        if retriever is None:
            raise ConfigError(
                "Retrieve: no retriever configured; use lmdsl.configure(retriever="
                "lmdsl.get_retriever('bm25', corpus='corpus.jsonl')), Retrieve(k, retriever=...), "
                "or --retriever bm25 -R corpus=corpus.jsonl on the CLI"
            )
        return retriever

    def forward(self, query: str | list[str], k: int | None = None) -> Prediction:
        k = k or self.k
        retriever = self._retriever()
        queries = [query] if isinstance(query, str) else [q for q in query if q]
        if not queries:
            raise ValueError("Retrieve: empty query")
        batch = getattr(retriever, "batch", None)
        results = batch(queries, k) if batch is not None and len(queries) > 1 else [retriever(q, k) for q in queries]
        merged: dict[str, Any] = {}
        for hits in results:
            for p in hits:
                key = p.id or p.title or p.text
                if key not in merged or p.score > merged[key].score:
                    merged[key] = p
        passages = sorted(merged.values(), key=lambda p: -p.score)[: k if len(queries) == 1 else None]
        prediction = Prediction(
            passages=[p.long_text if self.with_titles else p.text for p in passages],
            titles=[p.title for p in passages],
            ids=[p.id for p in passages],
            scores=[p.score for p in passages],
        )
        _trace.record(self, {"query": query, "k": k}, prediction)
        return prediction
