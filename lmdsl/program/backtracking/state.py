"""Per-call feedback for predictors being re-run by assertion backtracking or refinement.

Assertions and ``Refine`` write it; predictors read it. Everything lives on contextvars,
so concurrent programs (threads, asyncio tasks) never see each other's feedback.

Two sources, composed in this order on a predictor's signature:

* a *patch* (``BestOfN`` / ``Refine`` attempts): extra LM params such as ``rollout_id``
  and ``temperature`` for every predictor call, and a ``hint`` input per predictor;
* a *run* (``lmdsl.Assert`` / ``lmdsl.Suggest`` backtracking, see
  :mod:`lmdsl.program.backtracking.loop`): the calls made in the current attempt of a program
  run, and feedback (past outputs + messages) keyed by ``(predictor, k)`` -- the k-th
  call of that predictor in the run -- so a predictor called in a loop gets feedback on
  the right call only.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

HINT_FIELD = "hint"
HINT_DESC = "advice on how to do better than a previous attempt"
FEEDBACK_FIELD = "feedback"
FEEDBACK_DESC = "instructions to satisfy: your previous answer broke them"
PAST_DESC = "your previous {label}, which did not satisfy the instructions"
RETRY_NOTE = (
    "A previous answer is shown with feedback on what was wrong with it: write a new answer "
    "that follows the feedback."
)


@dataclass
class Call:
    """One predictor call made in the current attempt of a run."""

    predictor: Any
    k: int  # this was the predictor's k-th call (0-based) in the attempt
    inputs: dict[str, Any]
    outputs: Any  # Prediction


@dataclass
class Feedback:
    """What a retried call is shown: its outputs in the last failing attempt and the messages."""

    messages: list[str] = field(default_factory=list)
    past: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """The state of one program run under backtracking (one per outermost program call)."""

    mode: str
    max_backtracks: int
    attempt: int = 0
    calls: list[Call] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)
    feedback: dict[tuple[int, int], Feedback] = field(default_factory=dict)
    checks: list[tuple[str, str, str, bool]] = field(default_factory=list)  # (key, label, kind, passed)
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per backtrack

    def begin_attempt(self) -> None:
        self.calls = []
        self.counts = {}
        self.checks = []

    def note_call(self, predictor: Any, inputs: dict[str, Any], outputs: Any) -> None:
        k = self.counts.get(id(predictor), 0)
        self.counts[id(predictor)] = k + 1
        self.calls.append(Call(predictor, k, inputs, outputs))


@dataclass
class Patch:
    """LM params and hints applied to every predictor call inside a BestOfN / Refine attempt."""

    params: dict[str, Any] = field(default_factory=dict)
    hints: dict[int, str] = field(default_factory=dict)  # id(predictor) -> advice


_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar("lmdsl_backtrack_run", default=None)
_patch: contextvars.ContextVar[Patch | None] = contextvars.ContextVar("lmdsl_call_patch", default=None)


def current_run() -> Run | None:
    return _run.get()


def set_run(run: Run | None) -> contextvars.Token:
    return _run.set(run)


def reset_run(token: contextvars.Token) -> None:
    _run.reset(token)


@contextlib.contextmanager
def detached() -> Iterator[None]:
    """Calls inside the block are invisible to the current run (e.g. Refine's advice call)."""
    token = _run.set(None)
    try:
        yield
    finally:
        _run.reset(token)


@contextlib.contextmanager
def patched(params: dict[str, Any] | None = None, hints: dict[int, str] | None = None) -> Iterator[None]:
    token = _patch.set(Patch(dict(params or {}), dict(hints or {})))
    try:
        yield
    finally:
        _patch.reset(token)


def _free_name(signature: Any, name: str) -> str:
    taken = set(signature.inputs) | set(signature.outputs)
    while name in taken:
        name += "_"
    return name


def feedback_for(predictor: Any) -> tuple[Any, dict[str, Any]] | None:
    """(extended signature, extra input values) for the predictor's next call, or None.

    Called by ``Predict`` while preparing a call; cheap (two contextvar reads) when there is
    nothing to add.
    """
    run, patch = _run.get(), _patch.get()
    if run is None and patch is None:
        return None
    signature = predictor.signature
    extra: dict[str, Any] = {}
    hint = patch.hints.get(id(predictor)) if patch is not None else None
    if hint:
        name = _free_name(signature, HINT_FIELD)
        signature = signature.append_input(name, str, HINT_DESC)
        extra[name] = hint
    fb = run.feedback.get((id(predictor), run.counts.get(id(predictor), 0))) if run is not None else None
    if fb is not None:
        for out, value in fb.past.items():
            if out not in predictor.signature.outputs:
                continue
            field_ = predictor.signature.outputs[out]
            name = _free_name(signature, f"past_{out}")
            signature = signature.append_input(name, field_.type, PAST_DESC.format(label=field_.label.lower()))
            extra[name] = value
        name = _free_name(signature, FEEDBACK_FIELD)
        signature = signature.append_input(name, str, FEEDBACK_DESC)
        extra[name] = "\n".join(f"- {m}" for m in fb.messages) if len(fb.messages) > 1 else fb.messages[0]
        signature = signature.with_instructions(f"{signature.instructions}\n\n{RETRY_NOTE}")
    if not extra:
        return None
    return signature, extra


def call_params() -> dict[str, Any]:
    """Extra LM params for calls made now (a BestOfN / Refine attempt's rollout id and temperature)."""
    patch = _patch.get()
    return dict(patch.params) if patch is not None else {}


def note_call(predictor: Any, inputs: dict[str, Any], outputs: Any) -> None:
    """Record a finished predictor call in the current run (if any)."""
    run = _run.get()
    if run is not None:
        run.note_call(predictor, inputs, outputs)
