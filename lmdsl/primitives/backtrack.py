"""Per-call feedback for predictors being re-run by assertion backtracking.

Assertions write it; predictors read it. It lives on a contextvar so that concurrent
programs (threads, asyncio tasks) never see each other's feedback.
"""

from __future__ import annotations

import contextvars
from typing import Any

# predictor id -> (extended signature, extra input values)
_feedback: contextvars.ContextVar[dict[int, tuple[Any, dict[str, Any]]] | None] = contextvars.ContextVar(
    "lmdsl_feedback", default=None
)


def feedback_for(predictor: Any) -> tuple[Any, dict[str, Any]] | None:
    table = _feedback.get()
    if not table:
        return None
    return table.get(id(predictor))


def set_feedback(table: dict[int, tuple[Any, dict[str, Any]]] | None) -> contextvars.Token:
    return _feedback.set(table)


def reset_feedback(token: contextvars.Token) -> None:
    _feedback.reset(token)
