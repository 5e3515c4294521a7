"""What every optimizer shares: the compile contract, a report, and call accounting."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lmdsl.console import status
from lmdsl.errors import ConfigError
from lmdsl.primitives import Example
from lmdsl.telemetry import phase

if TYPE_CHECKING:
    from lmdsl.program import Module


@dataclass
class Candidate:
    name: str
    score: float | None
    demos: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompileReport:
    """Per-candidate scores, the best, and what the compile cost."""

    optimizer: str
    candidates: list[Candidate] = field(default_factory=list)
    best: int | None = None
    estimated_calls: int | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    wall_time: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def best_score(self) -> float | None:
        return self.candidates[self.best].score if self.best is not None else None

    @property
    def lm_calls(self) -> int:
        return int(self.usage.get("lm_calls", 0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer,
            "best": self.best,
            "best_score": self.best_score,
            "candidates": [c.__dict__ for c in self.candidates],
            "estimated_calls": self.estimated_calls,
            "usage": self.usage,
            "wall_time": round(self.wall_time, 3),
            "notes": self.notes,
        }


class Optimizer:
    """Base class: ``compile(program, trainset=..., valset=None) -> new program`` (input untouched)."""

    name = "optimizer"
    verbose = True
    # True when compile() returns a new program wrapping the given one (KNN, Ensemble): a
    # compiled .json holds one program's predictors, so the CLI refuses these before compiling.
    wraps_program = False

    def __init__(self) -> None:
        self.report: CompileReport | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "compile" in cls.__dict__:  # each compile is a phase: a parent span, a row in the report
            cls.compile = _as_phase(cls.compile)  # type: ignore[method-assign]

    def compile(self, program: Module, *, trainset: Sequence[Example], valset: Sequence[Example] | None = None) -> Module:
        raise NotImplementedError

    def log(self, message: str) -> None:
        if self.verbose:
            status(f"[{self.name}] {message}")

    def _start(self, estimated_calls: int | None, program: Module | None = None) -> float:
        """Print the estimate. With ``program``, ``estimated_calls`` counts program runs and is
        multiplied by the program's predictors (one LM call each, before re-asks and cache hits)."""
        if estimated_calls is not None and program is not None:
            runs, predictors = estimated_calls, max(1, len(program.predictors()))
            estimated_calls = runs * predictors
            self.report = CompileReport(self.name, estimated_calls=estimated_calls)
            self.log(f"estimated about {estimated_calls} LM calls ({runs} program runs x {predictors} "
                     f"predictor{'s' if predictors != 1 else ''}; cached answers cost none)")
            return time.perf_counter()
        self.report = CompileReport(self.name, estimated_calls=estimated_calls)
        if estimated_calls is not None:
            self.log(f"estimated at most {estimated_calls} program runs (LM calls scale with predictors per run)")
        return time.perf_counter()

    def _finish(self, start: float, usage: Any) -> None:
        assert self.report is not None
        self.report.wall_time = time.perf_counter() - start
        self.report.usage = usage.to_dict()
        u = self.report.usage
        self.log(
            f"done in {self.report.wall_time:.1f} s: {u['lm_calls']} LM calls "
            f"({u['cached_calls']} more answered from cache), {u['total_tokens']} tokens"
        )


def _as_phase(compile_fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(compile_fn)
    def compile(self: Optimizer, program: Any = None, *args: Any, **kwargs: Any) -> Any:
        with phase(f"compile {self.name}", optimizer=self.name):
            return compile_fn(self, program, *args, **kwargs)

    return compile


def check_settings(who: str, *, counts: dict[str, tuple[Any, int]] | None = None,
                   numbers: dict[str, Any] | None = None, choices: dict[str, tuple[Any, Sequence[Any]]] | None = None,
                   error: type[Exception] = ConfigError) -> None:
    """Refuse impossible constructor settings at once, naming the optimizer and the option
    (a negative ``num_candidate_programs`` used to print "estimated about -12 LM calls").

    ``counts``: name -> (value, minimum) for whole numbers, ``None`` allowed when the default is;
    ``numbers``: name -> value for numbers that must be finite (``None`` allowed);
    ``choices``: name -> (value, the values allowed). ``error``: the class raised (plugin optimizers
    keep the one their releases documented).
    """
    import math

    for name, (value, minimum) in (counts or {}).items():
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise error(f"{who}: {name} must be a whole number >= {minimum}, got {value!r}")
    for name, value in (numbers or {}).items():
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise error(f"{who}: {name} must be a finite number, got {value!r}")
    for name, (value, allowed) in (choices or {}).items():
        if value not in allowed:
            raise error(f"{who}: {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def lm_option(value: Any, who: str, name: str, *, error: type[Exception] = ConfigError) -> Any:
    """An LM given as an option: a ``"provider/model"`` string becomes an :class:`lmdsl.LM` (a bad one is
    refused naming the option), anything else (an LM, ``None`` for the configured one) is kept."""
    if not isinstance(value, str):
        return value
    from lmdsl.lm import LM

    try:
        return LM(value)
    except (ValueError, ConfigError) as exc:
        raise error(f"{who}: {name}: {exc}") from None


def check_trainset(trainset: Sequence[Example], who: str) -> list[Example]:
    rows = list(trainset or [])
    if not rows:
        raise ConfigError(f"{who}: the trainset is empty")
    for i, ex in enumerate(rows):
        if not isinstance(ex, Example) or ex.input_keys is None:
            raise ConfigError(f"{who}: trainset row {i} is not an Example with inputs marked (.with_inputs(...))")
    return rows


def passes(score: Any, threshold: float | None) -> bool:
    """A trace is kept when the metric is truthy, or at least ``threshold`` when one is given."""
    if threshold is None:
        return bool(score)
    return float(score) >= threshold


MetricFn = Callable[..., Any]


Teleprompter = Optimizer  # the old name, kept for one release
