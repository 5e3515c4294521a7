"""Process-wide defaults (`configure`) and scoped overrides (`context`) on contextvars.

`configure` changes the defaults every thread and task sees; `context` overrides them
only inside a ``with`` block, for the current thread or asyncio task and whatever it
starts through lmdsl (Evaluate and optimizers copy the context into their workers).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator
from typing import Any

from lmdsl.errors import UsageTypeError

DEFAULTS: dict[str, Any] = {
    "lm": None,
    "adapter": None,
    "retriever": None,
    "max_reasks": 2,
    "assertions": "on",  # "on" | "off" | "suggest-only"
    "max_backtracks": 2,
    "num_threads": 1,
    "display_progress": True,
    "history_size": 200,
    "executor": "threads",  # a registered executor name or an Executor object (lmdsl/executors)
    "tracing": None,  # None: $LMDSL_TRACE; else a target (see lmdsl.telemetry); False: off
    "trace_content": False,  # record prompts, replies, inputs and outputs in spans (opt-in)
    # True: a program's Prediction carries get_lm_usage() -> {model: tokens} (DSPy's switch).
    "track_usage": False,
    "callbacks": (),  # lmdsl.callbacks.Callback objects observing module, LM and tool calls
}

_global: dict[str, Any] = dict(DEFAULTS)
_global_lock = threading.Lock()
_overrides: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("lmdsl_overrides", default=None)


# DSPy's names for settings lmdsl spells differently.
ALIASES = {"rm": "retriever"}


def _resolve(settings: dict[str, Any]) -> dict[str, Any]:
    for alias, name in ALIASES.items():
        if alias in settings:
            if name in settings:
                raise UsageTypeError(f"give {name}= or its DSPy alias {alias}=, not both")
            settings[name] = settings.pop(alias)
    _check(settings)
    return settings


def _check(keys: Any) -> None:
    unknown = set(keys) - set(DEFAULTS)
    if unknown:
        raise UsageTypeError(f"unknown setting(s): {', '.join(sorted(unknown))}; known: {', '.join(DEFAULTS)}")


def configure(**settings: Any) -> None:
    """Set process-wide defaults, e.g. ``lmdsl.configure(lm=lmdsl.LM("openai/gpt-4o-mini"))``."""
    settings = _resolve(settings)
    with _global_lock:
        _global.update(settings)


@contextlib.contextmanager
def context(**settings: Any) -> Iterator[None]:
    """Override settings inside a ``with`` block (this thread / task only)."""
    settings = _resolve(settings)
    current = _overrides.get() or {}
    token = _overrides.set({**current, **settings})
    try:
        yield
    finally:
        _overrides.reset(token)


def get(key: str) -> Any:
    overrides = _overrides.get()
    if overrides is not None and key in overrides:
        return overrides[key]
    return _global[key]


def reset() -> None:
    """Restore the defaults (used by tests)."""
    with _global_lock:
        _global.clear()
        _global.update(DEFAULTS)


def current_lm() -> Any:
    """The LM in effect: a configured one, else ``LMDSL_LM``, else the embedded model when installed."""
    lm = get("lm")
    if lm is not None:
        return lm
    from lmdsl.lm.default import default_lm

    lm = default_lm()
    with _global_lock:
        if _global["lm"] is None:
            _global["lm"] = lm
        return _global["lm"]


def model_from_env() -> str | None:
    return os.environ.get("LMDSL_LM") or None
