"""`Pipeline`: optimizers one after another, each compiling the previous one's program.

Prompt and weights together (DSPy calls its version BetterTogether): few-shot demos make a
better teacher, ``BootstrapFinetune`` trains the model on that teacher's passing runs (its
default teacher is the program it is given, so the few-shot program teaches), and
``Calibrate`` then fits label biases on the tuned model. Each stage's program is scored on
the valset and the scores go into the report, one candidate per stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lmdsl.errors import ConfigError
from lmdsl.evaluate import Evaluate
from lmdsl.optimizers.base import Candidate, MetricFn, Optimizer, check_trainset
from lmdsl.primitives import Example
from lmdsl.utils.usage import track_usage

if TYPE_CHECKING:
    from lmdsl.program import Module


class Pipeline(Optimizer):
    name = "pipeline"

    def __init__(self, stages: Sequence[Optimizer], metric: MetricFn | None = None, *,
                 num_threads: int | None = None):
        super().__init__()
        if not stages:
            raise ConfigError("pipeline: no stages (give at least one optimizer)")
        self.stages = list(stages)
        self.metric = metric if metric is not None else getattr(self.stages[-1], "metric", None)
        self.num_threads = num_threads
        self.programs: list[Any] = []

    @property
    def stage_names(self) -> list[str]:
        return [getattr(s, "name", type(s).__name__) for s in self.stages]

    def compile(self, program: Module, *, trainset: Sequence[Example], valset: Sequence[Example] | None = None) -> Module:
        rows = check_trainset(trainset, self.name)
        start = self._start(None)
        assert self.report is not None
        self.log(f"{len(self.stages)} stages: {' -> '.join(self.stage_names)}")
        current = program
        self.programs = []
        with track_usage() as usage:
            previous = self._score(program, valset, "as given")
            self.report.candidates.append(Candidate("as given", previous))
            for i, (stage, name) in enumerate(zip(self.stages, self.stage_names, strict=True), 1):
                self.log(f"stage {i}/{len(self.stages)}: {name}")
                current = stage.compile(current, trainset=rows, valset=valset)
                self.programs.append(current)
                score = self._score(current, valset, name)
                stage_report = getattr(stage, "report", None)
                self.report.candidates.append(Candidate(
                    f"{i}. {name}", score,
                    details={"report": stage_report.to_dict() if stage_report is not None else None}))
                if score is not None:
                    change = f" (was {previous:.1f})" if previous is not None else ""
                    self.log(f"stage {i}/{len(self.stages)} {name}: valset score {score:.1f}{change}")
                previous = score
        self.report.best = len(self.report.candidates) - 1
        self._finish(start, usage)
        return current

    def _score(self, program: Module, valset: Sequence[Example] | None, label: str) -> float | None:
        if not valset or self.metric is None:
            return None
        evaluate = Evaluate(valset, self.metric, num_threads=self.num_threads, max_errors=len(valset) + 1,
                            label=f"{self.name} {label}")
        return evaluate(program).score
