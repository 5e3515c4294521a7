"""What every executor shares: the work to do per example, its outcome, and the Executor protocol.

An executor runs one program over many examples. The work done for one example is plain
data (:class:`Job`), so that it can happen in a thread of this process or in a process on
another machine; what the caller does with each :class:`Outcome` (score it with a metric,
keep its trace as demos) is the ``finish`` function, which never leaves this process's
objects: threads run it in their worker thread, Ray on the driver as results stream back.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from lmdsl.errors import AssertionFailed, UsageError
from lmdsl.primitives import Example
from lmdsl.program.demos import excluding
from lmdsl.program.trace import TraceEntry, tracing
from lmdsl.utils.usage import track_usage

R = TypeVar("R")


@dataclass(frozen=True)
class Job:
    """What to do with each example besides calling the program.

    ``trace``: record every predictor call (bootstrapping and fine-tuning keep passing traces).
    ``exclude_self``: hide a demo with the example's own inputs while it is answered (a teacher
    must not be shown the answer it is asked for).
    """

    trace: bool = False
    exclude_self: bool = False


@dataclass
class Outcome:
    """One example's run: the prediction, or the error it raised (one line), and its trace if asked."""

    prediction: Any = None
    error: str | None = None
    assertion_failed: bool = False  # an lmdsl.Assert still failed after backtracking (also an error)
    trace: list[TraceEntry] | None = None
    usage: dict[str, Any] = field(default_factory=dict)  # this row's LM calls: Usage.to_dict()
    latency: float = 0.0  # seconds the program took on this row

    @property
    def calls(self) -> int:
        return int(self.usage.get("calls", 0))

    @property
    def tokens(self) -> int:
        return int(self.usage.get("total_tokens", 0))


Finish = Callable[[int, Outcome], Any]
# What Evaluate, batch and the executors run: a Module, or any callable taking an example's inputs as keywords.
Runnable = Callable[..., Any]
OnResult = Callable[[int, Any], "bool | None"]


@runtime_checkable
class Executor(Protocol):
    """Runs ``program`` on every example and returns ``finish(index, outcome)`` per example, in input order.

    ``on_result(index, value)`` is called in the caller's thread, in input order, as values
    arrive; returning True stops the run (rows not yet finished stay ``None``). An exception
    raised by ``finish`` or ``on_result`` stops the run and propagates.
    """

    name: str

    def map(self, program: Runnable, examples: Sequence[Example], job: Job, *, finish: Finish,
            on_result: OnResult | None = None, num_threads: int = 1) -> list[Any]: ...


def call_program(program: Runnable, example: Example) -> Any:
    if example.input_keys is None:
        raise UsageError(f"example has no inputs marked (use .with_inputs(...)): {example!r}")
    return program(**example.inputs().to_dict())


def describe_error(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def run_example(program: Runnable, example: Example, job: Job) -> Outcome:
    """Run one example as ``job`` says; an exception becomes the outcome's error, never a raise."""
    begin = time.perf_counter()
    with contextlib.ExitStack() as stack:
        used = stack.enter_context(track_usage())
        trace = stack.enter_context(tracing()) if job.trace else None
        if job.exclude_self:
            stack.enter_context(excluding(example))
        try:
            outcome = Outcome(call_program(program, example), trace=list(trace) if trace is not None else None)
        except AssertionFailed as exc:
            outcome = Outcome(error=describe_error(exc), assertion_failed=True)
        except Exception as exc:
            outcome = Outcome(error=describe_error(exc))
    outcome.usage = used.to_dict()
    outcome.latency = time.perf_counter() - begin
    return outcome
