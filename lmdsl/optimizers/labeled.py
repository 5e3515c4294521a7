"""`LabeledFewShot`: k training examples as demos for every predictor. No LM calls."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lmdsl.optimizers.base import Optimizer, check_settings, check_trainset
from lmdsl.primitives import Example

if TYPE_CHECKING:
    from lmdsl.program import Module


class LabeledFewShot(Optimizer):
    name = "labeled-few-shot"

    def __init__(self, k: int = 16, *, seed: int = 0, sample: bool = True):
        super().__init__()
        check_settings(self.name, counts={"k": (k, 0)})
        self.k = k
        self.seed = seed
        self.sample = sample

    def compile(self, program: Module, *, trainset: Sequence[Example], valset: Sequence[Example] | None = None) -> Module:
        rows = check_trainset(trainset, self.name)
        student = program.reset_copy()
        k = min(self.k, len(rows))
        for predictor in student.predictors():
            predictor.demos = random.Random(self.seed).sample(rows, k) if self.sample else rows[:k]
        return student
