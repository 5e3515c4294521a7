"""Named phases (a compile, a candidate's scoring, an evaluation): a parent span when tracing,
and a row of calls, tokens, cost and time in an open :func:`record_phases` log (the report)."""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lmdsl.telemetry import state
from lmdsl.telemetry.scrub import secrets_of
from lmdsl.telemetry.spans import record_error
from lmdsl.utils.usage import track_usage


@dataclass
class PhaseRecord:
    name: str
    depth: int
    parent: int | None  # index of the enclosing phase in the log
    attributes: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    wall_time: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "depth": self.depth, "parent": self.parent, "attributes": self.attributes,
                "usage": self.usage, "wall_time": round(self.wall_time, 3), "error": self.error}


class PhaseLog:
    """Phases in the order they started (a pre-order walk of the phase tree)."""

    def __init__(self) -> None:
        self.phases: list[PhaseRecord] = []

    def to_list(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.phases]


class Phase:
    """What a ``with phase(...) as p`` block may add: ``p.set(score=61.7)``."""

    def __init__(self, span: Any = None, record: PhaseRecord | None = None):
        self.span = span
        self.record = record

    def set(self, **attributes: Any) -> None:
        for key, value in attributes.items():
            if self.record is not None:
                self.record.attributes[key] = value
            if self.span is not None and isinstance(value, str | bool | int | float):
                self.span.set_attribute(f"lmdsl.{key}", value)


_log: contextvars.ContextVar[PhaseLog | None] = contextvars.ContextVar("lmdsl_phase_log", default=None)
_current: contextvars.ContextVar[int | None] = contextvars.ContextVar("lmdsl_phase", default=None)


@contextlib.contextmanager
def record_phases() -> Iterator[PhaseLog]:
    """Collect every phase started inside the block (nested phases keep their parent)."""
    log = PhaseLog()
    token = _log.set(log)
    current = _current.set(None)
    try:
        yield log
    finally:
        _current.reset(current)
        _log.reset(token)


@contextlib.contextmanager
def phase(name: str, **attributes: Any) -> Iterator[Phase]:
    """A named step; free when neither tracing nor a phase log is on."""
    log, tracer = _log.get(), state.tracer()
    if log is None and tracer is None:
        yield Phase()
        return

    record = None
    token = None
    if log is not None:
        parent = _current.get()
        depth = log.phases[parent].depth + 1 if parent is not None else 0
        record = PhaseRecord(name, depth, parent, dict(attributes))
        log.phases.append(record)
        token = _current.set(len(log.phases) - 1)
    span_cm = None
    span = None
    if tracer is not None:
        attrs = {"lmdsl.kind": "phase", **{f"lmdsl.{k}": v for k, v in attributes.items()
                                          if isinstance(v, str | bool | int | float)}}
        span_cm = tracer.start_as_current_span(f"phase {name}", attributes=attrs, record_exception=False,
                                               set_status_on_exception=False)
        span = span_cm.__enter__()
    start = time.perf_counter()
    failure: BaseException | None = None
    try:
        with track_usage() as usage:
            yield Phase(span, record)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if record is not None:
            record.wall_time = time.perf_counter() - start
            record.usage = usage.to_dict()
            if failure is not None:
                record.error = f"{type(failure).__name__}: {failure}"[:500]
        if token is not None:
            _current.reset(token)
        if span is not None:
            for key, value in usage.to_dict().items():
                span.set_attribute(f"lmdsl.usage.{key}", value)
            if isinstance(failure, Exception):
                record_error(span, failure, secrets_of(None))
        if span_cm is not None:
            span_cm.__exit__(None, None, None)
