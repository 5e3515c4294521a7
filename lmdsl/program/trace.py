"""The trace: every predictor call made while tracing is on, in order (optimizers read it)."""

from __future__ import annotations

import contextlib
import contextvars
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmdsl.program.module import Module


@dataclass
class TraceEntry:
    predictor: Module  # a Predictor (or a Retrieve step, recorded for the trace's readers)
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


def record(predictor: Module, inputs: dict[str, Any], outputs: Any) -> None:
    trace = _trace.get()
    if trace is not None:
        trace.append(TraceEntry(predictor, {k: _snapshot(v) for k, v in inputs.items()}, outputs))


# Values that cannot change after the call: recorded as they are, without copying.
_ATOMIC = (str, int, float, complex, bool, bytes, type(None))


def _snapshot(value: Any) -> Any:
    """A copy of an input value that later mutation by the caller cannot reach.

    Traces become bootstrapped demos, so a list the caller appends to after the call must not
    change what was recorded. Strings, numbers and None are kept as they are; anything else is
    deep-copied, and a value that cannot be deep-copied (a lock, a live handle) is kept by
    reference rather than failing the call.
    """
    if isinstance(value, _ATOMIC):
        return value
    try:
        return copy.deepcopy(value)
    except Exception:
        return value
