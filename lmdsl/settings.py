"""Process-wide defaults (`configure`) and scoped overrides (`context`) on contextvars.

`configure` changes the defaults every thread and task sees; `context` overrides them
only inside a ``with`` block, for the current thread or asyncio task and whatever it
starts through lmdsl (Evaluate and optimizers copy the context into their workers).

A leaf: it imports nothing from lmdsl, so every layer may read settings. What a value
means (e.g. building the default LM when ``lm`` is unset) belongs to the layer that reads
it (``lmdsl.lm.default.current_lm``). Every key is listed in docs/settings.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import warnings
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


def is_overridden(key: str) -> bool:
    """Whether ``key`` is set by an enclosing ``lmdsl.context(...)`` in this thread / task."""
    _check([key])
    overrides = _overrides.get()
    return overrides is not None and key in overrides


def setdefault(key: str, value: Any) -> Any:
    """Make ``value`` the process-wide ``key`` unless one is configured already; return the one in effect.

    Atomic, so threads racing to fill a lazily built default (the LM) all end up with the same object.
    """
    _check([key])
    with _global_lock:
        if _global[key] is None:
            _global[key] = value
        return _global[key]


# Moved to the lm layer (which builds the default LM) so that settings imports nothing from
# lmdsl; the old names keep working for one release.
_MOVED = ("current_lm", "model_from_env")


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(f"module 'lmdsl.settings' has no attribute {name!r}")
    warnings.warn(f"lmdsl.settings.{name} moved to lmdsl.lm.default.{name}",
                  DeprecationWarning, stacklevel=2)
    from lmdsl.lm import default  # only on the deprecated path: settings itself stays a leaf

    return getattr(default, name)
