"""Backtracking: how ``lmdsl.Assert`` / ``lmdsl.Suggest`` (and ``BestOfN`` / ``Refine``) make a
program try again with feedback. The one home of the feature; :mod:`lmdsl.assertions` is its
public face.

* :mod:`.state` -- what a retried predictor call is shown (a run's feedback per call, a
  BestOfN / Refine attempt's patch), on contextvars; ``Predict`` reads it.
* :mod:`.loop` -- the run: the outermost program call re-runs ``forward`` when a check
  backtracks; assertion modes and budgets; counting checks for optimizer reports.
* :mod:`.checks` -- what a failing check does: backtrack, warn or raise.
"""

from lmdsl.program.backtracking.checks import check
from lmdsl.program.backtracking.loop import (
    CONFIG_ATTR,
    MODES,
    AssertionConfig,
    Backtrack,
    CheckCounter,
    acall,
    call,
    check_mode,
    counting,
    effective_mode,
    record_check,
)
from lmdsl.program.backtracking.state import (
    Call,
    Feedback,
    Patch,
    Run,
    call_params,
    current_run,
    detached,
    feedback_for,
    note_call,
    patched,
)

__all__ = [
    "CONFIG_ATTR", "MODES", "AssertionConfig", "Backtrack", "Call", "CheckCounter", "Feedback", "Patch", "Run",
    "acall", "call", "call_params", "check", "check_mode", "counting", "current_run", "detached", "effective_mode",
    "feedback_for", "note_call", "patched", "record_check",
]
