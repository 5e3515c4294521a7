"""What a failing ``lmdsl.Assert`` / ``lmdsl.Suggest`` does: backtrack to the target call
while retries are left, then warn (Suggest) or raise :class:`lmdsl.AssertionFailed` (Assert).

The public functions and their documentation are in :mod:`lmdsl.assertions`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from lmdsl.errors import AssertionFailed, UsageTypeError
from lmdsl.program.backtracking.loop import Backtrack, effective_mode, record_check
from lmdsl.program.backtracking.state import Call, current_run

log = logging.getLogger("lmdsl.assertions")  # the name users filter on, from before this module existed

_labels: dict[str, str] = {}  # call site -> the first message seen there (stable label for counts)


def _site() -> str:
    frame = sys._getframe(3)  # _site <- check <- Assert/Suggest <- user code
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def check(kind: str, condition: Any, message: str, target: Any, name: str | None) -> bool:
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
    from lmdsl.primitives import Prediction
    from lmdsl.program.module import Module

    if isinstance(target, Prediction):
        for call in reversed(calls):
            if call.outputs is target:
                return call
        return calls[-1]  # a Prediction a module built itself: its last predictor call
    if isinstance(target, Module):  # a predictor is a Module whose predictors() is [itself]
        wanted = {id(p) for p in target.predictors()}
    else:
        raise UsageTypeError(f"target must be a predictor, a module or a Prediction, got {type(target).__name__}")
    for call in reversed(calls):
        if id(call.predictor) in wanted:
            return call
    return None
