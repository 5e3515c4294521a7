"""The re-run loop behind ``lmdsl.Assert`` / ``lmdsl.Suggest``.

The outermost program call (``Module.__call__``) opens a *run* (a contextvar, so threads
and asyncio tasks each have their own; no lock is held). Predictors note their calls in
the run. When a check fails and backtracks are left, it raises :class:`Backtrack`
(a ``BaseException``, so ``except Exception`` in user code does not swallow it); the
loop here records the failing call's outputs and the message as feedback for that call
-- the k-th call of that predictor -- drops the attempt's trace entries and runs
``forward`` again. On the re-run only that call sees the feedback (its prompt changes,
so the LM is really called again); every other call is made exactly as before, which
the LM cache answers without calling the model.

The checks of the run's final attempt are added to the innermost :func:`counting` block,
which is how optimizers report how often each suggestion passed.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lmdsl import settings
from lmdsl.errors import ConfigError
from lmdsl.program.backtracking.state import Call, Feedback, Run, current_run, reset_run, set_run
from lmdsl.program.trace import current_trace

MODES = ("on", "off", "suggest-only")
CONFIG_ATTR = "_lmdsl_assertions"


@dataclass(frozen=True)
class AssertionConfig:
    """A program's own assertion settings (``lmdsl.assertions.configure(program, ...)``)."""

    mode: str | None = None
    max_backtracks: int | None = None


_program_config: contextvars.ContextVar[AssertionConfig | None] = contextvars.ContextVar(
    "lmdsl_assertion_config", default=None
)


class Backtrack(BaseException):  # a control-flow signal, not an error
    """Raised by a failing check to make the run re-execute ``forward`` with feedback."""

    def __init__(self, kind: str, message: str, call: Call):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.call = call


def check_mode(mode: str, where: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"{where}: assertions must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    return mode


def effective_mode() -> str:
    """``lmdsl.context(assertions=...)`` wins, then the running program's own setting, then ``configure``."""
    if settings.is_overridden("assertions"):  # an explicit context() override is the most specific switch
        return check_mode(settings.get("assertions"), "lmdsl.context")
    config = _program_config.get()
    if config is not None and config.mode is not None:
        return config.mode
    return check_mode(settings.get("assertions"), "lmdsl.configure")


def _max_backtracks() -> int:
    config = _program_config.get()
    if config is not None and config.max_backtracks is not None:
        return config.max_backtracks
    return int(settings.get("max_backtracks"))


# ---- counting checks --------------------------------------------------------------------
class CheckCounter:
    """Pass/fail counts per check, over the final attempt of every run in a :func:`counting` block."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: dict[str, dict[str, Any]] = {}
        self.runs = 0  # runs that made at least one check
        self.runs_passed = 0  # ... and in which every check passed

    def add(self, checks: list[tuple[str, str, str, bool]]) -> None:
        if not checks:
            return
        with self._lock:
            self.runs += 1
            self.runs_passed += all(passed for *_, passed in checks)
            for key, label, kind, passed in checks:
                row = self.rows.setdefault(key, {"label": label, "kind": kind, "passed": 0, "failed": 0})
                row["passed" if passed else "failed"] += 1

    def summary(self) -> dict[str, dict[str, Any]]:
        """``{label: {"kind", "passed", "failed", "rate"}}`` -- rate is the share of checks that passed."""
        with self._lock:
            out = {}
            for row in self.rows.values():
                total = row["passed"] + row["failed"]
                out[row["label"]] = {"kind": row["kind"], "passed": row["passed"], "failed": row["failed"],
                                     "rate": round(row["passed"] / total, 4) if total else None}
            return out

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "runs_passed": self.runs_passed, "checks": self.summary()}


_counter: contextvars.ContextVar[CheckCounter | None] = contextvars.ContextVar("lmdsl_check_counter", default=None)


@contextlib.contextmanager
def counting() -> Iterator[CheckCounter]:
    """Count Assert/Suggest outcomes of the runs made inside the block (and in workers it starts)."""
    counter = CheckCounter()
    token = _counter.set(counter)
    try:
        yield counter
    finally:
        _counter.reset(token)


def record_check(key: str, label: str, kind: str, passed: bool) -> None:
    run = current_run()
    if run is not None:
        run.checks.append((key, label, kind, passed))
        return
    counter = _counter.get()
    if counter is not None:
        counter.add([(key, label, kind, passed)])


def _flush(run: Run) -> None:
    counter = _counter.get()
    if counter is not None:
        counter.add(run.checks)


# ---- the loop ---------------------------------------------------------------------------
def _retry(run: Run, signal: Backtrack, trace: list[Any] | None, mark: int) -> None:
    call = signal.call
    fb = run.feedback.setdefault((id(call.predictor), call.k), Feedback())
    if signal.message not in fb.messages:
        fb.messages.append(signal.message)
    outputs = call.outputs
    fb.past = outputs.to_dict() if hasattr(outputs, "to_dict") else dict(outputs)
    run.history.append({"attempt": run.attempt + 1, "kind": signal.kind, "message": signal.message,
                        "predictor": getattr(getattr(call.predictor, "signature", None), "name", "?"), "k": call.k})
    if trace is not None:
        del trace[mark:]  # the superseded attempt's calls are not part of the final trace
    run.attempt += 1


class _Attempt:
    """One execution of ``forward`` in a run.

    Leaving it with :class:`Backtrack` records the feedback and swallows the signal, so the
    caller's loop goes on to the next attempt; leaving it any other way (a result or an
    error) ends the run and reports the final attempt's checks.
    """

    def __init__(self, run: Run, trace: list[Any] | None, mark: int):
        self.run, self.trace, self.mark = run, trace, mark

    def __enter__(self) -> None:
        self.run.begin_attempt()

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, Backtrack):
            _retry(self.run, exc, self.trace, self.mark)
            return True
        _flush(self.run)
        return False


@contextlib.contextmanager
def _attempts(module: Any) -> Iterator[Iterator[contextlib.AbstractContextManager[Any]]]:
    """Enter a program call; yield its attempts. Only the outermost call owns a run and retries:
    an inner call gets one pass-through attempt, so a Backtrack reaches the outer loop."""
    config = getattr(module, CONFIG_ATTR, None)
    token = _program_config.set(config) if config is not None else None
    try:
        if current_run() is not None:
            yield iter([contextlib.nullcontext()])
            return
        run = Run(effective_mode(), _max_backtracks())
        run_token = set_run(run)
        trace = current_trace()
        mark = len(trace) if trace is not None else 0
        try:
            yield (_Attempt(run, trace, mark) for _ in itertools.count())
        finally:
            reset_run(run_token)
    finally:
        if token is not None:
            _program_config.reset(token)


# The sync and async drivers differ only in ``await``: everything else is in _attempts / _Attempt.
def call(module: Any, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run ``fn`` (the module's forward) as a program call: the outermost call owns the run."""
    with _attempts(module) as attempts:
        for attempt in attempts:
            with attempt:
                return fn(*args, **kwargs)


async def acall(module: Any, afn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """:func:`call` for ``aforward``."""
    with _attempts(module) as attempts:
        for attempt in attempts:
            with attempt:
                return await afn(*args, **kwargs)
