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
from lmdsl.errors import ConfigError
from lmdsl.evaluate.evaluate import call_program
from lmdsl.lm.usage import track_usage
from lmdsl.primitives import Example
from lmdsl.program.demos import excluding
from lmdsl.program.trace import tracing
from lmdsl.teleprompt.base import MetricFn, Teleprompter, check_trainset, passes
from lmdsl.teleprompt.labeled import LabeledFewShot
from lmdsl.utils.parallel import parallel_map
from lmdsl.utils.progress import Progress


class BootstrapFewShot(Teleprompter):
    name = "bootstrap"

    def __init__(
        self,
        metric: MetricFn,
        *,
        metric_threshold: float | None = None,
        max_bootstrapped_demos: int = 4,
        max_labeled_demos: int = 16,
        max_rounds: int = 1,
        teacher: Any = None,
        max_errors: int = 10,
        num_threads: int | None = None,
        seed: int = 0,
    ):
        super().__init__()
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

    def compile(self, program: Any, *, trainset: Sequence[Example], valset: Sequence[Example] | None = None) -> Any:
        rows = check_trainset(trainset, self.name)
        start = self._start(self.estimate(rows))
        with track_usage() as usage:
            student = program.reset_copy()
            teacher = self._teacher(program, rows)
            demos, bootstrapped = self.bootstrap(teacher, student, rows)
            self._assign(student, demos, rows, bootstrapped)
        self._finish(start, usage)
        return student

    def _teacher(self, program: Any, rows: list[Example]) -> Any:
        if self.teacher is not None:
            return self.teacher.deepcopy()
        if self.max_labeled_demos <= 0:
            return program.reset_copy()
        labeled = LabeledFewShot(k=self.max_labeled_demos, seed=self.seed)
        return labeled.compile(program.reset_copy(), trainset=rows)

    def bootstrap(self, teacher: Any, student: Any, rows: list[Example]) -> tuple[dict[str, list[Example]], set[int]]:
        """Run the teacher; return per-predictor demos from passing traces and the indices used."""
        student_paths = [p for p, _ in student.named_predictors()]
        teacher_paths = {id(p): path for path, p in teacher.named_predictors()}
        if sorted(teacher_paths.values()) != sorted(student_paths):
            raise ConfigError(
                f"{self.name}: teacher and student have different predictors "
                f"({sorted(teacher_paths.values())} vs {sorted(student_paths)})"
            )
        demos: dict[str, list[Example]] = {p: [] for p in student_paths}
        used: set[int] = set()
        errors = 0
        self.stats = {"attempted": 0, "passed": 0, "errors": 0}
        threads = self.num_threads or int(settings.get("num_threads"))
        for round_idx in range(self.max_rounds):
            todo = [i for i in range(len(rows)) if i not in used]
            progress = Progress(len(todo), f"{self.name} round {round_idx + 1}",
                                enabled=bool(settings.get("display_progress")))
            # Runs go in batches so that results are taken in trainset order (deterministic)
            # while threads work, and bootstrapping stops once enough demos are found.
            batch = max(1, threads)
            for offset in range(0, len(todo), batch):
                if len(used) >= self.max_bootstrapped_demos:
                    break
                chunk = todo[offset : offset + batch]
                outcomes = parallel_map(
                    lambda i, r=round_idx: self._run_one(teacher, rows[i], r), chunk, num_threads=threads
                )
                for i, outcome in zip(chunk, outcomes):
                    progress.update()
                    self.stats["attempted"] += 1
                    if outcome is None:
                        continue
                    if outcome == "error":
                        errors += 1
                        self.stats["errors"] += 1
                        if errors > self.max_errors:
                            raise ConfigError(f"{self.name}: more than {self.max_errors} teacher runs raised")
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

    def _run_one(self, teacher: Any, example: Example, round_idx: int) -> Any:
        """The trace of a passing run, None for a failing run, or "error"."""
        overrides: dict[str, Any] = {}
        if round_idx > 0:
            lm = settings.current_lm()
            overrides["lm"] = lm.copy(temperature=1.0, rollout_id=round_idx)
        try:
            with settings.context(**overrides), tracing() as trace, excluding(example):
                prediction = call_program(teacher, example)
                score = self.metric(example, prediction, trace)
        except Exception:
            return "error"
        return list(trace) if passes(score, self.metric_threshold) else None

    def _assign(self, student: Any, demos: dict[str, list[Example]], rows: list[Example], used: set[int]) -> None:
        rng = random.Random(self.seed)
        raw = [rows[i] for i in range(len(rows)) if i not in used]
        for path, predictor in student.named_predictors():
            augmented = demos[path][: self.max_bootstrapped_demos]
            size = max(0, min(self.max_labeled_demos - len(augmented), len(raw)))
            predictor.demos = augmented + rng.sample(raw, size)
