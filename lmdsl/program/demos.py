"""Which demos a predictor shows on this call.

Optimizers change this per call without mutating shared predictors: bootstrapping hides
an example's own labeled demo while the teacher answers it, and KNNFewShot swaps in the
nearest neighbours. Both live on contextvars, so concurrent calls never interfere.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmdsl.program.predictor import Predictor

_excluded: contextvars.ContextVar[Any] = contextvars.ContextVar("lmdsl_excluded_demo", default=None)
_override: contextvars.ContextVar[dict[int, list[Any]] | None] = contextvars.ContextVar(
    "lmdsl_demo_override", default=None
)


@contextlib.contextmanager
def excluding(example: Any) -> Iterator[None]:
    token = _excluded.set(example)
    try:
        yield
    finally:
        _excluded.reset(token)


@contextlib.contextmanager
def demos_override(table: dict[int, list[Any]]) -> Iterator[None]:
    """``{id(predictor): demos}`` for calls made inside the block."""
    token = _override.set(table)
    try:
        yield
    finally:
        _override.reset(token)


def active_demos(predictor: Predictor) -> list[Any]:
    override = _override.get()
    demos = override.get(id(predictor), predictor.demos) if override else predictor.demos
    excluded = _excluded.get()
    if excluded is None:
        return demos
    return [d for d in demos if not _same_inputs(d, excluded)]


def _same_inputs(demo: Any, example: Any) -> bool:
    """A demo of ``example`` itself: equal inputs, whatever other fields either carries (a
    labeled row with an added ``reasoning`` would otherwise show the teacher its own answer)."""
    keys = getattr(example, "input_keys", None)
    if not keys:
        return bool(demo == example)
    try:
        return all(k in demo and demo[k] == example[k] for k in keys)
    except (TypeError, KeyError):
        return False
