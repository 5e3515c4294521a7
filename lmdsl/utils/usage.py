"""Token usage, counted per LM and per run (``with track_usage() as usage:``)."""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Usage:
    """Calls and tokens; thread-safe to add to."""

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, usage: dict[str, int], *, cached: bool, cost: float | None = None) -> None:
        with self._lock:
            self.calls += 1
            if cached:
                self.cached_calls += 1
                return
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)
            self.cost += cost or 0.0

    @property
    def lm_calls(self) -> int:
        """Calls that reached the model (cache hits excluded)."""
        return self.calls - self.cached_calls

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, float | int]:
        return {
            "calls": self.calls,
            "lm_calls": self.lm_calls,
            "cached_calls": self.cached_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cost": round(self.cost, 6),
        }


_active: contextvars.ContextVar[tuple[Usage, ...]] = contextvars.ContextVar("lmdsl_usage", default=())


@contextlib.contextmanager
def track_usage() -> Iterator[Usage]:
    """Count every LM call made inside the block (and in workers that copy this context)."""
    usage = Usage()
    token = _active.set((*_active.get(), usage))
    try:
        yield usage
    finally:
        _active.reset(token)


def record(usage: dict[str, int], *, cached: bool, cost: float | None = None) -> None:
    for tracker in _active.get():
        tracker.add(usage, cached=cached, cost=cost)
