"""``lmdsl.Assert`` / ``lmdsl.Suggest``: rules for valid outputs, with self-correction.

Inside a program's ``forward``::

    query = self.generate_query(context=context, question=question).query
    lmdsl.Suggest(len(query) < 100, "Query should be short and less than 100 characters")

When a check fails, the program backtracks: the target predictor call (``target=``: a
predictor, a module, or the Prediction a predictor returned; by default the last
predictor call before the check) is made again with its previous outputs (``past_*``
inputs) and the accumulated messages (a ``feedback`` input) in its prompt, and
``forward`` runs again from the start -- the other calls are repeated unchanged and come
from the LM cache. After ``max_backtracks`` re-runs (setting, default 2) a failing
``Suggest`` logs a warning and returns False, a failing ``Assert`` raises
:class:`lmdsl.AssertionFailed` with the messages, attempts and last outputs.

Switches, most specific first:

* ``with lmdsl.context(assertions="off")`` -- this block, this thread/task;
* ``lmdsl.assertions.configure(program, mode="suggest-only", max_backtracks=3)`` -- one
  program object (kept by its copies, so by compiled programs);
* ``lmdsl.configure(assertions=..., max_backtracks=...)`` -- process-wide default ``"on"``.

Modes: ``"on"``; ``"off"`` (checks are no-ops returning the condition; they are still
counted); ``"suggest-only"`` (every Assert acts as a Suggest: it backtracks, then logs
instead of raising -- nothing raises AssertionFailed).

See docs/assertions.md.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TypeVar

from lmdsl.errors import AssertionFailed, UsageError, UsageTypeError
from lmdsl.primitives.backtrack import Call, current_run
from lmdsl.program.backtracking import (
    CONFIG_ATTR,
    MODES,
    AssertionConfig,
    Backtrack,
    CheckCounter,
    check_mode,
    counting,
    effective_mode,
    record_check,
)

__all__ = ["MODES", "Assert", "AssertionFailed", "CheckCounter", "Suggest", "configure", "counting", "mode"]

log = logging.getLogger(__name__)
P = TypeVar("P")


def Assert(condition: Any, message: str, target: Any = None, *, name: str | None = None) -> bool:
    """A hard rule: backtrack on failure, raise :class:`AssertionFailed` when retries run out.

    Returns True when the condition holds (and, with assertions off, the condition's truth).
    ``name`` labels the check in counts and compile reports (default: the first message
    seen at this line of code).
    """
    return _check("assert", condition, message, target, name)


def Suggest(condition: Any, message: str, target: Any = None, *, name: str | None = None) -> bool:
    """A soft rule: backtrack on failure; when retries run out, log a warning and return False."""
    return _check("suggest", condition, message, target, name)


def configure(program: P, mode: str | None = None, *, max_backtracks: int | None = None) -> P:
    """Give one program its own assertion mode and/or backtrack budget; returns the program.

    ``lmdsl.context(assertions=...)`` still overrides the mode for a block. Pass neither
    argument to remove the program's own setting.
    """
    if mode is not None:
        check_mode(mode, "lmdsl.assertions.configure")
    if max_backtracks is not None and (not isinstance(max_backtracks, int) or max_backtracks < 0):
        raise UsageError(f"max_backtracks must be an int >= 0, got {max_backtracks!r}")
    if mode is None and max_backtracks is None:
        vars(program).pop(CONFIG_ATTR, None)
    else:
        setattr(program, CONFIG_ATTR, AssertionConfig(mode, max_backtracks))
    return program


def mode() -> str:
    """The assertion mode in effect here ("on", "off" or "suggest-only")."""
    return effective_mode()


# ---- implementation ---------------------------------------------------------------------
_labels: dict[str, str] = {}  # call site -> the first message seen there (stable label for counts)


def _site() -> str:
    frame = sys._getframe(3)  # _site <- _check <- Assert/Suggest <- user code
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _check(kind: str, condition: Any, message: str, target: Any, name: str | None) -> bool:
    passed = bool(condition)
    key = name or _site()
    label = name or _labels.setdefault(key, str(message))
    record_check(key, label, kind, passed)
    current = effective_mode()
    if passed or current == "off":
        return passed
    soft = kind == "suggest" or current == "suggest-only"
    run = current_run()
    call = _target_call(run.calls, target) if run is not None else None
    if run is not None and call is not None and run.attempt < run.max_backtracks:
        raise Backtrack(kind, str(message), call)
    attempts = run.attempt + 1 if run is not None else 1
    messages = _messages(run, call, str(message))
    where = f" ({_describe(call)})" if call is not None else ""
    if soft:
        log.warning("%s failed after %d attempt(s)%s: %s", "Suggest" if kind == "suggest" else "Assert",
                    attempts, where, message)
        return False
    outputs = call.outputs.to_dict() if call is not None and hasattr(call.outputs, "to_dict") else {}
    raise AssertionFailed(f"{message} (still failing after {attempts} attempt(s){where})",
                          messages=messages, attempts=attempts, outputs=outputs)


def _messages(run: Any, call: Call | None, message: str) -> list[str]:
    if run is None or call is None:
        return [message]
    fb = run.feedback.get((id(call.predictor), call.k))
    messages = list(fb.messages) if fb is not None else []
    if message not in messages:
        messages.append(message)
    return messages


def _describe(call: Call) -> str:
    sig = getattr(call.predictor, "signature", None)
    name = getattr(sig, "name", type(call.predictor).__name__)
    if name == "Signature" and sig is not None:  # a string signature: show its fields
        name = f"{', '.join(sig.inputs)} -> {', '.join(sig.outputs)}"
    return f"{name} call {call.k + 1}" if call.k else name


def _target_call(calls: list[Call], target: Any) -> Call | None:
    """The call to give feedback to: see Assert's docstring. None when it did not run in this attempt."""
    if not calls:
        return None
    if target is None:
        return calls[-1]
    from lmdsl.predict.predict import Predict
    from lmdsl.primitives import Prediction
    from lmdsl.program import Module

    if isinstance(target, Prediction):
        for call in reversed(calls):
            if call.outputs is target:
                return call
        return calls[-1]  # a Prediction a module built itself: its last predictor call
    if isinstance(target, Predict):
        wanted = {id(target)}
    elif isinstance(target, Module):
        wanted = {id(p) for p in target.predictors()}
    else:
        raise UsageTypeError(f"target must be a predictor, a module or a Prediction, got {type(target).__name__}")
    for call in reversed(calls):
        if id(call.predictor) in wanted:
            return call
    return None
