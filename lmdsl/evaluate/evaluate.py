"""`Evaluate`: run a program over a devset in parallel and score it with a metric."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmdsl import settings
from lmdsl.errors import ConfigError, ErrorBudgetExceeded, EventLoopError, MetricError, UsageError
from lmdsl.executors import Executor, Job, Outcome, call_program, describe_error, run_program
from lmdsl.executors.base import Runnable
from lmdsl.primitives import Example
from lmdsl.telemetry import phase
from lmdsl.utils.progress import Progress
from lmdsl.utils.usage import track_usage

Metric = Callable[..., Any]


@dataclass
class EvalRow:
    example: Example
    prediction: Any
    score: float
    error: str | None = None
    calls: int = 0  # LM calls the program made for this row (cache hits included)
    tokens: int = 0
    latency: float = 0.0  # seconds the program took on this row


@dataclass
class EvaluationResult:
    score: float  # mean metric x 100, rounded to 2 places
    results: list[EvalRow]
    errors: int = 0
    usage: dict[str, Any] = field(default_factory=dict)
    wall_time: float = 0.0

    @property
    def n(self) -> int:
        return len(self.results)

    def __float__(self) -> float:
        return self.score

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "n": self.n, "errors": self.errors, "usage": self.usage,
                "wall_time": round(self.wall_time, 3)}

    def to_table(self) -> list[dict[str, Any]]:
        """One flat dict per example: ``input.*``, ``output.*``, ``gold.*``, score, error, calls, tokens, latency."""
        from lmdsl.evaluate.export import to_table

        return to_table(self)

    def to_pandas(self) -> Any:
        """:meth:`to_table` as a pandas DataFrame (needs pandas)."""
        from lmdsl.evaluate.export import to_pandas

        return to_pandas(self)

    def write(self, path: str | Path) -> Path:
        """Save one row per example to ``.jsonl`` (typed, nested) or ``.csv`` (flat, text)."""
        from lmdsl.evaluate.export import write_results

        return write_results(self, path)


__all__ = ["EvalRow", "Evaluate", "EvaluationResult", "MetricError", "acall_program", "call_metric", "call_program",
           "describe_error", "score_prediction"]


async def acall_program(program: Runnable, example: Example) -> Any:
    """:func:`call_program` from async code: a Module's ``acall``, an ``async def`` awaited, any
    other callable in a worker thread."""
    if example.input_keys is None:
        raise UsageError(f"example has no inputs marked (use .with_inputs(...)): {example!r}")
    inputs = example.inputs().to_dict()
    if hasattr(program, "acall"):
        return await program.acall(**inputs)
    if inspect.iscoroutinefunction(program):
        return await program(**inputs)
    ctx = contextvars.copy_context()
    return await asyncio.to_thread(ctx.run, functools.partial(program, **inputs))


class Evaluate:
    """``Evaluate(devset, metric, num_threads=4)(program)`` -> :class:`EvaluationResult`.

    An example whose program raises scores ``failure_score`` and is listed; once more
    than ``max_errors`` examples have raised, evaluation stops with ErrorBudgetExceeded.
    A metric that raises stops evaluation at once with :class:`MetricError` (scoring every
    remaining example 0 would hide the bug behind a plausible-looking score).

    ``executor`` says where the rows run: ``"threads"`` (``num_threads`` threads here),
    ``"ray"`` (replicas on a Ray cluster; the metric runs here as results stream back), an
    executor object, or None for the ``executor`` setting (see lmdsl/executors).
    """

    def __init__(
        self,
        devset: Sequence[Example],
        metric: Metric,
        *,
        num_threads: int | None = None,
        display_progress: bool | None = None,
        max_errors: int = 10,
        failure_score: float = 0.0,
        label: str = "evaluate",
        executor: str | Executor | None = None,
    ):
        self.devset = list(devset)
        self.metric = metric
        self.num_threads = num_threads
        self.display_progress = display_progress
        self.max_errors = max_errors
        self.failure_score = failure_score
        self.label = label
        self.executor = executor

    def __call__(self, program: Runnable, *, metric: Metric | None = None, devset: Sequence[Example] | None = None,
                 num_threads: int | None = None, max_concurrency: int | None = None,
                 executor: str | Executor | None = None) -> EvaluationResult:
        """Score ``program`` on the devset in ``num_threads`` threads. With ``max_concurrency`` (or an
        ``async def`` program) rows run as asyncio tasks instead: see :meth:`acall`."""
        if max_concurrency is not None or inspect.iscoroutinefunction(program):
            coro = self.acall(program, metric=metric, devset=devset, max_concurrency=max_concurrency)
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(coro)
            coro.close()
            raise EventLoopError(f"{self.label}: inside an event loop, use `await evaluate.acall(program, ...)`")
        run = _Run(self, metric, devset)
        threads = num_threads or self.num_threads or int(settings.get("num_threads"))

        def finish(index: int, outcome: Outcome) -> EvalRow:  # in a worker thread, or on the Ray driver
            return run.row(index, run.devset[index], outcome)

        with run.scope():
            rows = run_program(program, run.devset, Job(), finish=finish, on_result=run.on_result,
                               num_threads=threads, executor=executor or self.executor)
        return run.result(rows)

    async def acall(self, program: Runnable, *, metric: Metric | None = None, devset: Sequence[Example] | None = None,
                    max_concurrency: int | None = None) -> EvaluationResult:
        """Score ``program`` with at most ``max_concurrency`` rows in flight (default 16) on this
        event loop: a Module runs through ``acall`` (its ``aforward``: no thread per row), an
        ``async def`` function is awaited. Errors, the error budget and the result are as for a call."""
        limit = max_concurrency or 16
        if not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"{self.label}: max_concurrency must be a positive integer, got {limit!r}")
        run = _Run(self, metric, devset)
        gate = asyncio.Semaphore(limit)
        rows: list[EvalRow | None] = [None] * len(run.devset)
        stop = asyncio.Event()

        async def run_one(index: int, example: Example) -> None:
            async with gate:
                if stop.is_set():
                    return
                begin = time.perf_counter()
                with track_usage() as used:
                    try:
                        outcome = Outcome(await acall_program(program, example))
                    except Exception as exc:
                        outcome = Outcome(error=describe_error(exc))
                outcome.usage, outcome.latency = used.to_dict(), time.perf_counter() - begin
                row = rows[index] = run.row(index, example, outcome)
                if run.on_result(index, row):
                    stop.set()

        with run.scope():
            tasks = [asyncio.ensure_future(run_one(i, ex)) for i, ex in enumerate(run.devset)]
            try:
                await asyncio.gather(*tasks)
            except BaseException:  # a MetricError (or cancellation): stop the other rows too
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        return run.result(rows)


class _Run:
    """One evaluation's bookkeeping, shared by the thread and asyncio runners."""

    def __init__(self, owner: Evaluate, metric: Metric | None, devset: Sequence[Example] | None):
        self.owner = owner
        self.metric = metric or owner.metric
        self.devset = list(devset) if devset is not None else owner.devset
        for i, example in enumerate(self.devset):
            if not isinstance(example, Example) or example.input_keys is None:
                raise ConfigError(f"{owner.label}: devset row {i} is not an Example with inputs marked "
                                  f"(.with_inputs(...)): {_short(example)}")
        show = owner.display_progress if owner.display_progress is not None else bool(settings.get("display_progress"))
        self.progress = Progress(len(self.devset), owner.label, enabled=show)
        self.totals = {"score": 0.0, "done": 0, "errors": 0}
        self.first_error: list[str] = []
        self.usage: Any = None
        self.start = time.perf_counter()

    def row(self, index: int, example: Example, outcome: Outcome) -> EvalRow:
        cost: dict[str, Any] = {"calls": outcome.calls, "tokens": outcome.tokens, "latency": outcome.latency}
        if outcome.error is not None:
            return EvalRow(example, None, self.owner.failure_score, outcome.error, **cost)
        prediction = outcome.prediction
        return EvalRow(example, prediction, score_prediction(self.metric, example, prediction, None, index), **cost)

    def on_result(self, _i: int, row: EvalRow) -> bool:
        totals = self.totals
        totals["done"] += 1
        totals["score"] += row.score
        if row.error:
            totals["errors"] += 1
            if not self.first_error:
                self.first_error.append(row.error)
        self.progress.update(status=f"{100 * totals['score'] / totals['done']:.1f}%")
        return totals["errors"] > self.owner.max_errors

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        self.start = time.perf_counter()
        with phase(self.owner.label, rows=len(self.devset)) as current, track_usage() as usage:
            self.usage = usage
            self.progress.watch(usage)
            try:
                yield
            finally:
                self.progress.close()
            if self.totals["done"]:
                current.set(score=round(100 * self.totals["score"] / self.totals["done"], 2))

    def result(self, rows: list[EvalRow | None]) -> EvaluationResult:
        totals = self.totals
        if totals["errors"] > self.owner.max_errors:
            raise ErrorBudgetExceeded(
                f"stopped after {totals['errors']} of {totals['done']} examples raised "
                f"(max_errors={self.owner.max_errors}); first error: {self.first_error[0]}"
            )
        done_rows = [r for r in rows if r is not None]
        mean = sum(r.score for r in done_rows) / len(done_rows) if done_rows else 0.0
        return EvaluationResult(
            score=round(100 * mean, 2),
            results=done_rows,
            errors=sum(1 for r in done_rows if r.error),
            usage=self.usage.to_dict(),
            wall_time=time.perf_counter() - self.start,
        )


def score_prediction(metric: Metric, example: Example, prediction: Any, trace: Any, index: int | None = None) -> float:
    """``float(metric(...))``; a metric that raises (or returns a non-number) becomes one MetricError line."""
    name = getattr(metric, "__name__", type(metric).__name__)
    where = f" on devset row {index}" if index is not None else ""
    try:
        score = float(call_metric(metric, example, prediction, trace))
    except Exception as exc:
        raise MetricError(f"metric {name} raised {describe_error(exc)}{where} ({_short(example)})") from exc
    if score != score or score in (float("inf"), float("-inf")):  # NaN would average into every score
        raise MetricError(f"metric {name} returned {score}{where} ({_short(example)}); a metric must return a "
                          "finite number")
    return score


def call_metric(metric: Metric, example: Example, prediction: Any, trace: Any = None) -> Any:
    """``metric(example, prediction, trace)``, or ``metric(example, prediction)`` for a metric that
    takes two arguments (DSPy's docs write most metrics that way; its Evaluate passes two)."""
    mode = _trace_mode(metric)
    if mode == "positional":
        return metric(example, prediction, trace)
    if mode == "keyword":
        return metric(example, prediction, trace=trace)
    return metric(example, prediction)


def _trace_mode(metric: Metric) -> str:
    """How ``metric`` takes the trace: "positional", "keyword" (keyword-only ``trace``) or "none"."""
    try:
        params = inspect.signature(metric).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: pass all three, as always
        return "positional"
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in params):
        return "positional"
    if any(p.kind is p.VAR_KEYWORD or (p.kind is p.KEYWORD_ONLY and p.name == "trace") for p in params):
        return "keyword"
    return "none"


def _short(value: Any, limit: int = 160) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."

