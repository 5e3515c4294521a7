"""Per-program LM usage by model, for ``configure(track_usage=True)`` and ``Prediction.get_lm_usage()``.

The outermost module call opens a collector (a contextvar, so concurrent programs in threads
or asyncio tasks never mix); every predictor call inside notes its model and token counts;
the returned Prediction carries the totals. Tokens are those of the replies the program used:
a reply answered from lmdsl's cache counts the tokens it cost when it was made.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from typing import Any

from lmdsl import settings

_collector: contextvars.ContextVar[_Collector | None] = contextvars.ContextVar("lmdsl_lm_usage", default=None)


class _Collector:
    def __init__(self) -> None:
        self.by_model: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()  # a program may fan out to threads that copied the context

    def add(self, model: str, usage: dict[str, Any]) -> None:
        with self._lock:
            row = self.by_model.setdefault(model, {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
            for key in ("prompt_tokens", "completion_tokens"):
                n = int(usage.get(key, 0) or 0)
                row[key] += n
                row["total_tokens"] += n


def note(model: str, usage: dict[str, Any]) -> None:
    """Record one predictor call's tokens in the enclosing program call, if usage is tracked."""
    collector = _collector.get()
    if collector is not None:
        collector.add(model, usage)


@contextlib.contextmanager
def collecting() -> Iterator[_Collector | None]:
    """Open a collector when usage is tracked and none is open (yields None otherwise)."""
    if _collector.get() is not None or not settings.get("track_usage"):
        yield None
        return
    collector = _Collector()
    token = _collector.set(collector)
    try:
        yield collector
    finally:
        _collector.reset(token)


def attach(result: Any, collector: _Collector | None) -> None:
    meta = getattr(result, "_meta", None)
    if collector is not None and isinstance(meta, dict):
        meta["lm_usage"] = {m: dict(u) for m, u in collector.by_model.items()}
