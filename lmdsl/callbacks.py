"""Callbacks: observe module calls, LM calls and tool calls (``configure(callbacks=[...])``).

The hooks and their arguments follow DSPy's ``BaseCallback`` so that an observer written for
it (a tracer, a logger) ports by changing the import. Every ``*_start`` gets a ``call_id``
that its ``*_end`` repeats; ``exception`` is the error the call raised, or None. A callback
that raises is logged and skipped: observing must never break the program.

With no callbacks configured the hooks cost one settings lookup per call.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from lmdsl import settings
from lmdsl.lm.protocol import LanguageModel

log = logging.getLogger(__name__)


class Callback:
    """Subclass and override the hooks you need; the defaults do nothing."""

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...

    def on_module_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None: ...

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...

    def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None: ...

    def on_tool_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...

    def on_tool_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None: ...


BaseCallback = Callback  # DSPy's name


def active() -> list[Any]:
    return list(settings.get("callbacks") or ())


class _Outcome:
    """What a watched call produced; the ``with`` body sets ``value``."""

    value: Any = None


def _fire(callbacks: list[Any], hook: str, *args: Any) -> None:
    for cb in callbacks:
        method = getattr(cb, hook, None)
        if method is None:
            continue
        try:
            method(*args)
        except Exception:
            log.exception("callback %s.%s raised; ignored", type(cb).__name__, hook)


@contextlib.contextmanager
def watching(kind: str, instance: Any, inputs: dict[str, Any]) -> Iterator[_Outcome]:
    """Fire ``on_<kind>_start`` / ``on_<kind>_end`` around the body (nothing when none are configured)."""
    outcome = _Outcome()
    callbacks = active()
    if not callbacks:
        yield outcome
        return
    call_id = uuid.uuid4().hex
    _fire(callbacks, f"on_{kind}_start", call_id, instance, inputs)
    try:
        yield outcome
    except BaseException as exc:
        _fire(callbacks, f"on_{kind}_end", call_id, None, exc)
        raise
    _fire(callbacks, f"on_{kind}_end", call_id, outcome.value, None)


class WatchedLM:
    """An LM seen through the callbacks: ``__call__`` / ``acall`` fire ``on_lm_*``; everything else
    is the LM's own. Predictors wrap their LM in it only while callbacks are configured."""

    def __init__(self, lm: LanguageModel):
        self._lm = lm

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lm, name)

    def __call__(self, messages: list[dict[str, Any]], **params: Any) -> Any:
        with watching("lm", self._lm, {"messages": messages, **params}) as out:
            out.value = self._lm(messages, **params)
        return out.value

    async def acall(self, messages: list[dict[str, Any]], **params: Any) -> Any:
        with watching("lm", self._lm, {"messages": messages, **params}) as out:
            out.value = await self._lm.acall(messages, **params)
        return out.value


def watched_lm(lm: LanguageModel) -> LanguageModel:
    return WatchedLM(lm) if active() else lm
