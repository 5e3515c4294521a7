"""The trace: every predictor call made while tracing is on, in order (optimizers read it)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class TraceEntry:
    predictor: Any
    inputs: dict[str, Any]
    outputs: Any  # Prediction


_trace: contextvars.ContextVar[list[TraceEntry] | None] = contextvars.ContextVar("lmdsl_trace", default=None)


@contextlib.contextmanager
def tracing() -> Iterator[list[TraceEntry]]:
    """Record predictor calls made inside the block (this thread/task only)."""
    trace: list[TraceEntry] = []
    token = _trace.set(trace)
    try:
        yield trace
    finally:
        _trace.reset(token)


def current_trace() -> list[TraceEntry] | None:
    return _trace.get()


def record(predictor: Any, inputs: dict[str, Any], outputs: Any) -> None:
    trace = _trace.get()
    if trace is not None:
        trace.append(TraceEntry(predictor, dict(inputs), outputs))
