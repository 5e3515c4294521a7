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

from typing import Any, TypeVar

from lmdsl.errors import AssertionFailed, UsageError
from lmdsl.program.backtracking import (
    CONFIG_ATTR,
    MODES,
    AssertionConfig,
    CheckCounter,
    check,
    check_mode,
    counting,
    effective_mode,
)

__all__ = ["MODES", "Assert", "AssertionFailed", "CheckCounter", "Suggest", "configure", "counting", "mode"]

P = TypeVar("P")


def Assert(condition: Any, message: str, target: Any = None, *, name: str | None = None) -> bool:
    """A hard rule: backtrack on failure, raise :class:`AssertionFailed` when retries run out.

    Returns True when the condition holds (and, with assertions off, the condition's truth).
    ``name`` labels the check in counts and compile reports (default: the first message
    seen at this line of code).
    """
    return check("assert", condition, message, target, name)


def Suggest(condition: Any, message: str, target: Any = None, *, name: str | None = None) -> bool:
    """A soft rule: backtrack on failure; when retries run out, log a warning and return False."""
    return check("suggest", condition, message, target, name)


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
