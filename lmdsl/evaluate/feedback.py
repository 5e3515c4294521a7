"""`Feedback`: a metric's score together with text saying why.

A metric may return ``Feedback(score, text)`` instead of a number. Everything that reads a
metric as a number (``Evaluate``, the few-shot optimizers' pass test, Calibrate) sees the
score, through ``__float__`` and ``__bool__``; an optimizer that learns from words (GEPA)
reads ``text`` as well, through :func:`split_feedback`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lmdsl.errors import UsageTypeError


@dataclass(frozen=True)
class Feedback:
    """``Feedback(0.0, "expected 'location': the question asks where")`` from a metric."""

    score: float
    text: str = ""

    def __post_init__(self) -> None:
        try:
            score = float(self.score)
        except (TypeError, ValueError):
            raise UsageTypeError(f"Feedback: score must be a number, got {self.score!r}") from None
        object.__setattr__(self, "score", score)
        if not isinstance(self.text, str):
            raise UsageTypeError(f"Feedback: text must be a str, got {type(self.text).__name__}")

    def __float__(self) -> float:
        return self.score

    def __bool__(self) -> bool:
        return bool(self.score)


def split_feedback(value: Any) -> tuple[float, str | None]:
    """``(score, text)`` of a metric's result; text is None for a plain number or bool."""
    if isinstance(value, Feedback):
        return value.score, value.text
    return float(value), None
