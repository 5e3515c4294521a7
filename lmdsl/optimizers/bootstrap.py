"""`BootstrapFewShot`: demos taken from the program's own successful runs.

The teacher (by default the student with labeled demos) runs over the trainset with
tracing on. Whenever the final output passes the metric, every predictor call in that
run becomes a demo for that predictor, so intermediate steps need no labels.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from lmdsl import settings
from lmdsl.errors import ConfigError, ErrorBudgetExceeded
from lmdsl.evaluate.evaluate import score_prediction
from lmdsl.executors import Job, Outcome, parallel_width, run_program
from lmdsl.lm.default import current_lm
from lmdsl.optimizers.base import MetricFn, Optimizer, check_settings, check_trainset, passes
from lmdsl.optimizers.labeled import LabeledFewShot
from lmdsl.primitives import Example
from lmdsl.program import Module
from lmdsl.utils.progress import Progress
from lmdsl.utils.usage import track_usage

# _judge's outcome for a run whose lmdsl.Assert still failed after backtracking.
# (Runs that backtracked and then passed leave only their final attempt in the trace.)
_ASSERTION_FAILED: Any = object()


class _TeacherErrorBudgetExceeded(ErrorBudgetExceeded, ConfigError):
    """Too many teacher runs raised. A ConfigError until 0.1: ``except ConfigError`` keeps
    catching it for one more release."""


class BootstrapFewShot(Optimizer):
    name = "bootstrap"

    def __init__(
        self,
        metric: MetricFn,
        *,
        metric_threshold: float | None = None,
        max_bootstrapped_demos: int = 4,
        max_labeled_demos: int = 16,
        max_rounds: int = 1,
        teacher: Module | None = None,
        max_errors: int = 10,
        num_threads: int | None = None,
        seed: int = 0,
    ):
        super().__init__()
        check_settings(self.name, counts={
            "max_bootstrapped_demos": (max_bootstrapped_demos, 0), "max_labeled_demos": (max_labeled_demos, 0),
            "max_rounds": (max_rounds, 1), "max_errors": (max_errors, 0), "num_threads": (num_threads, 1),
        }, numbers={"metric_threshold": metric_threshold})
        self.metric = metric
        self.metric_threshold = metric_threshold
        self.max_bootstrapped_demos = max_bootstrapped_demos
        self.max_labeled_demos = max_labeled_demos
        self.max_rounds = max_rounds
        self.teacher = teacher
        self.max_errors = max_errors
        self.num_threads = num_threads
        self.seed = seed
        self.stats: dict[str, Any] = {}

    def estimate(self, trainset: Sequence[Example]) -> int:
        return len(trainset) * self.max_rounds

    def compile(self, program: Module, *, trainset: Sequence[Example], valset: Sequence[Example] | None = None,
                teacher: Module | None = None) -> Module:
        """``teacher=`` (as in DSPy) runs instead of the student to find demos; it wins over the
        constructor's ``teacher`` and must have the student's predictors."""
        rows = check_trainset(trainset, self.name)
        start = self._start(self.estimate(rows), program)
        with track_usage() as usage:
            student = program.reset_copy()
            teacher = teacher.deepcopy() if teacher is not None else self._teacher(program, rows)
            demos, bootstrapped = self.bootstrap(teacher, student, rows)
            self._assign(student, demos, rows, bootstrapped)
        self._finish(start, usage)
        return student

    def _teacher(self, program: Module, rows: list[Example]) -> Module:
        if self.teacher is not None:
            return self.teacher.deepcopy()
        if self.max_labeled_demos <= 0:
            return program.reset_copy()
        labeled = LabeledFewShot(k=self.max_labeled_demos, seed=self.seed)
        return labeled.compile(program.reset_copy(), trainset=rows)

    def bootstrap(self, teacher: Module, student: Module, rows: list[Example]) -> tuple[dict[str, list[Example]], set[int]]:
        """Run the teacher; return per-predictor demos from passing traces and the indices used."""
        student_paths = [p for p, _ in student.named_predictors()]
        teacher_names = [path for path, _ in teacher.named_predictors()]
        if sorted(teacher_names) != sorted(student_paths):
            raise ConfigError(
                f"{self.name}: teacher and student have different predictors "
                f"({sorted(teacher_names)} vs {sorted(student_paths)})"
            )
        demos: dict[str, list[Example]] = {p: [] for p in student_paths}
        used: set[int] = set()
        errors = 0
        first_error = ""
        self.stats = {"attempted": 0, "passed": 0, "errors": 0}
        threads = self.num_threads or int(settings.get("num_threads"))
        for round_idx in range(self.max_rounds):
            round_teacher = self._rollout(teacher, round_idx)
            teacher_paths = {id(p): path for path, p in round_teacher.named_predictors()}
            todo = [i for i in range(len(rows)) if i not in used]
            progress = Progress(len(todo), f"{self.name} round {round_idx + 1}",
                                enabled=bool(settings.get("display_progress")))
            # Runs go in batches so that results are taken in trainset order (deterministic)
            # while threads work, and bootstrapping stops once enough demos are found.
            batch = max(1, parallel_width(threads))
            for offset in range(0, len(todo), batch):
                if len(used) >= self.max_bootstrapped_demos:
                    break
                chunk = todo[offset : offset + batch]
                def judge(k: int, o: Outcome, c: list[int] = chunk) -> Any:
                    return self._judge(rows[c[k]], o)

                outcomes = run_program(round_teacher, [rows[i] for i in chunk], Job(trace=True, exclude_self=True),
                                       finish=judge, num_threads=threads)
                for i, outcome in zip(chunk, outcomes):
                    progress.update()
                    self.stats["attempted"] += 1
                    if outcome is None:
                        continue
                    if outcome is _ASSERTION_FAILED:  # a failed run (lmdsl.Assert), not an error
                        self.stats["assertion_failures"] = self.stats.get("assertion_failures", 0) + 1
                        continue
                    if isinstance(outcome, str):
                        errors += 1
                        self.stats["errors"] += 1
                        first_error = first_error or outcome
                        if errors > self.max_errors:
                            raise _TeacherErrorBudgetExceeded(
                                f"{self.name}: more than {self.max_errors} teacher runs raised; first error: {first_error}")
                        continue
                    if len(used) >= self.max_bootstrapped_demos:
                        break
                    used.add(i)
                    self.stats["passed"] += 1
                    for entry in outcome:
                        path = teacher_paths.get(id(entry.predictor))
                        if path is None:
                            continue
                        demo = Example({**entry.inputs, **entry.outputs.to_dict()}, augmented=True)
                        demos[path].append(demo.with_inputs(*entry.inputs))
            progress.close()
            if len(used) >= self.max_bootstrapped_demos:
                break
        return demos, used

    def _rollout(self, teacher: Module, round_idx: int) -> Module:
        """Round 0 is the teacher itself; later rounds sample again (temperature 1.0, a new
        rollout id, so new cache keys), including predictors that carry their own LM."""
        if round_idx == 0:
            return teacher
        rollout = teacher.deepcopy()  # LMs are shared by deepcopy; each predictor gets a copy below
        default = None
        for predictor in rollout.predictors():
            if predictor.lm is None:
                default = default or current_lm().copy(temperature=1.0, rollout_id=round_idx)
                predictor.lm = default
            else:
                predictor.lm = predictor.lm.copy(temperature=1.0, rollout_id=round_idx)
        return rollout

    def _judge(self, example: Example, outcome: Outcome) -> Any:
        """The trace of a passing run, None for a failing run, or the error of a run that raised.

        A metric that raises is a bug in the metric, not a failed run: MetricError propagates.
        """
        if outcome.assertion_failed:
            return _ASSERTION_FAILED
        if outcome.error is not None:
            return outcome.error
        score = score_prediction(self.metric, example, outcome.prediction, outcome.trace)
        return outcome.trace if passes(score, self.metric_threshold) else None

    def _assign(self, student: Module, demos: dict[str, list[Example]], rows: list[Example], used: set[int]) -> None:
        rng = random.Random(self.seed)
        raw = [rows[i] for i in range(len(rows)) if i not in used]
        for path, predictor in student.named_predictors():
            augmented = demos[path][: self.max_bootstrapped_demos]
            size = max(0, min(self.max_labeled_demos - len(augmented), len(raw)))
            predictor.demos = augmented + rng.sample(raw, size)
