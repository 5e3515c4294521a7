"""Which tracer, if any, is in effect: the ``tracing`` setting, else ``$LMDSL_TRACE``.

Off is the default and costs one settings lookup per module or LM call; OpenTelemetry's
SDK is imported only when a target is first used.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from lmdsl import settings

_OFF = ("", "0", "off", "false", "no", "none")
_env: list[str | None] = []  # $LMDSL_TRACE, read once (reset() reads it again)
_tracers: dict[Any, Any] = {}  # target (or id of an unhashable one) -> tracer
_lock = threading.Lock()


def tracer() -> Any:
    """The tracer for the target in effect, or None when tracing is off (the hot path)."""
    value = settings.get("tracing")
    if value is None:
        value = _env[0] if _env else _read_env()
    if not value:
        return None
    try:
        return _tracers[value]
    except (KeyError, TypeError):
        return _tracer_for(value)


def record_content() -> bool:
    """Whether prompts, replies, inputs and outputs go into spans (opt-in)."""
    if settings.get("trace_content"):
        return True
    return os.environ.get("LMDSL_TRACE_CONTENT", "").strip().lower() in ("1", "true", "yes", "on")


def _read_env() -> str | None:
    raw = os.environ.get("LMDSL_TRACE", "").strip()
    value = None if raw.lower() in _OFF else raw
    _env[:] = [value]
    return value


def _key(value: Any) -> Any:
    try:
        hash(value)
        return value
    except TypeError:
        return ("id", id(value))


def _tracer_for(value: Any) -> Any:
    key = _key(value)
    with _lock:
        if key not in _tracers:
            from lmdsl.telemetry.exporters import build_tracer

            _tracers[key] = build_tracer(value)
        return _tracers[key]


def flush() -> None:
    """Export spans still buffered (OTLP batches); the CLI calls it before exiting."""
    for tracer in list(_tracers.values()):
        provider = getattr(tracer, "_lmdsl_provider", None)
        if provider is not None:
            provider.force_flush()


def reset() -> None:
    """Forget built tracers and re-read ``$LMDSL_TRACE`` (tests; after changing the variable)."""
    with _lock:
        for tracer in _tracers.values():
            provider = getattr(tracer, "_lmdsl_provider", None)
            if provider is not None:
                provider.shutdown()
        _tracers.clear()
        _env.clear()
