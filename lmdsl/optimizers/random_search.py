"""`BootstrapFewShotWithRandomSearch`: several demo sets, each scored on the valset, best kept.

Candidates, in this order (earlier wins ties): zero-shot, labeled demos only, a plain
bootstrap, then ``num_candidate_programs`` bootstraps over shuffled trainsets with a
random number of demos each. Every LM call goes through the cache, so an interrupted
compile re-run with the same arguments replays finished work without calling the model.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

from lmdsl.evaluate import Evaluate
from lmdsl.optimizers.base import Candidate, MetricFn, Optimizer, check_settings, check_trainset
from lmdsl.optimizers.bootstrap import BootstrapFewShot
from lmdsl.optimizers.labeled import LabeledFewShot
from lmdsl.primitives import Example
from lmdsl.program import Module
from lmdsl.program.backtracking import counting
from lmdsl.utils.usage import track_usage


class BootstrapFewShotWithRandomSearch(Optimizer):
    name = "random-search"

    def __init__(
        self,
        metric: MetricFn,
        *,
        num_candidate_programs: int = 8,
        max_bootstrapped_demos: int = 4,
        max_labeled_demos: int = 16,
        max_rounds: int = 1,
        metric_threshold: float | None = None,
        teacher: Module | None = None,
        num_threads: int | None = None,
        stop_at_score: float | None = None,
        max_errors: int = 10,
        seed: int = 0,
    ):
        super().__init__()
        check_settings(self.name, counts={
            "num_candidate_programs": (num_candidate_programs, 0), "max_bootstrapped_demos": (max_bootstrapped_demos, 0),
            "max_labeled_demos": (max_labeled_demos, 0), "max_rounds": (max_rounds, 1), "max_errors": (max_errors, 0),
            "num_threads": (num_threads, 1),
        }, numbers={"metric_threshold": metric_threshold, "stop_at_score": stop_at_score})
        self.metric = metric
        self.num_candidate_programs = num_candidate_programs
        self.max_bootstrapped_demos = max_bootstrapped_demos
        self.max_labeled_demos = max_labeled_demos
        self.max_rounds = max_rounds
        self.metric_threshold = metric_threshold
        self.teacher = teacher
        self.num_threads = num_threads
        self.stop_at_score = stop_at_score
        self.max_errors = max_errors
        self.seed = seed

    def estimate(self, trainset: Sequence[Example], valset: Sequence[Example]) -> int:
        candidates = self.num_candidate_programs + 3
        bootstraps = (self.num_candidate_programs + 1) * len(trainset) * self.max_rounds
        return candidates * len(valset) + bootstraps

    def _bootstrapper(self, max_demos: int, seed: int, teacher: Module | None = None) -> BootstrapFewShot:
        b = BootstrapFewShot(
            self.metric,
            metric_threshold=self.metric_threshold,
            max_bootstrapped_demos=max_demos,
            max_labeled_demos=self.max_labeled_demos,
            max_rounds=self.max_rounds,
            teacher=teacher if teacher is not None else self.teacher,
            max_errors=self.max_errors,
            num_threads=self.num_threads,
            seed=seed,
        )
        b.verbose = False
        return b

    def candidates(self, program: Module, rows: list[Example], teacher: Module | None = None):
        """Yield (name, compiled program, details) lazily, so stop_at_score saves work."""
        yield "zero-shot", program.reset_copy(), {}
        labeled = LabeledFewShot(k=self.max_labeled_demos, seed=self.seed)
        yield "labeled", labeled.compile(program, trainset=rows), {}
        plain = self._bootstrapper(self.max_bootstrapped_demos, self.seed, teacher)
        yield "bootstrap", plain.compile(program, trainset=rows), dict(plain.stats)
        for i in range(self.num_candidate_programs):
            seed = self.seed * 1000 + i
            rng = random.Random(seed)
            shuffled = list(rows)
            rng.shuffle(shuffled)
            size = rng.randint(1, max(1, self.max_bootstrapped_demos))
            b = self._bootstrapper(size, seed, teacher)
            yield f"bootstrap-shuffled-{i}(k={size})", b.compile(program, trainset=shuffled), dict(b.stats)

    def compile(self, program: Module, *, trainset: Sequence[Example], valset: Sequence[Example] | None = None,
                teacher: Module | None = None) -> Module:
        """``teacher=`` (as in DSPy) bootstraps every candidate's demos from that program's runs."""
        rows = check_trainset(trainset, self.name)
        val = list(valset) if valset else rows
        start = self._start(self.estimate(rows, val), program)
        assert self.report is not None
        evaluate = Evaluate(val, self.metric, num_threads=self.num_threads, max_errors=len(val) + 1)
        best_program: Module | None = None
        best_score: float | None = None
        total = self.num_candidate_programs + 3
        with track_usage() as usage:
            mark = (usage.lm_calls, usage.total_tokens, time.perf_counter())
            for index, (name, candidate, details) in enumerate(self.candidates(program, rows, teacher)):
                evaluate.label = f"candidate {index + 1}/{total} {name}"
                with counting() as checks:  # lmdsl.Assert / Suggest outcomes on the valset
                    result = evaluate(candidate)
                demos = {p: len(pred.demos) for p, pred in candidate.named_predictors()}
                now = (usage.lm_calls, usage.total_tokens, time.perf_counter())
                cost: dict[str, Any] = {"lm_calls": now[0] - mark[0], "tokens": now[1] - mark[1],
                                        "wall_time": round(now[2] - mark[2], 3)}  # building and scoring this candidate
                mark = now
                if checks.runs:  # how often each check passed: {"runs", "runs_passed", "checks": {label: ...}}
                    cost["assertions"] = checks.to_dict()
                self.report.candidates.append(
                    Candidate(name, result.score, demos, {**details, "errors": result.errors, **cost})
                )
                self.log(f"candidate {index + 1}/{total} {name}: {result.score:.1f}")
                if best_score is None or result.score > best_score:  # strict: earlier candidates win ties
                    best_program, best_score, self.report.best = candidate, result.score, index
                if self.stop_at_score is not None and result.score >= self.stop_at_score:
                    self.report.notes.append(f"stopped early: {name} reached stop_at_score={self.stop_at_score}")
                    break
        self._finish(start, usage)
        # the loop always builds and scores a first candidate
        assert best_program is not None and self.report.best is not None
        self.log(f"best: {self.report.candidates[self.report.best].name} with {best_score:.1f}")
        return best_program
