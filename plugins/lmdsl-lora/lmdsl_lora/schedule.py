"""How long to train: epochs from the example count, a held-back slice, and early stopping on it.

A fixed epoch count fits one dataset size only: 2 epochs over 46 examples is 24 optimizer
steps (too few: the SST-2 tune after them scored no better than zero-shot), while 2 epochs
over 400 examples is 200 steps. ``auto_epochs`` aims at a fixed number of example
presentations instead (``TARGET_PRESENTATIONS``: 200 rows x 2 epochs, the run that reached
90-92 % in the feasibility study), so small sets get more passes and large ones fewer.
Because several passes over a small set can over-fit, a slice of the distinct rows is held
back and the adapter with the lowest loss on it is the one kept.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lmdsl_lora.dataset import canonical_json

#: example presentations an automatic schedule aims at (epochs x examples)
TARGET_PRESENTATIONS = 400
MAX_AUTO_EPOCHS = 8
#: fewer distinct rows than this: no held-back slice (every row is needed for training)
MIN_ROWS_FOR_HOLDOUT = 20
MAX_HOLDOUT = 32


def auto_epochs(n_examples: int) -> int:
    """Epochs for ``n_examples`` so that training sees about ``TARGET_PRESENTATIONS`` examples, 1..8."""
    if n_examples < 1:
        return 1
    return max(1, min(MAX_AUTO_EPOCHS, math.ceil(TARGET_PRESENTATIONS / n_examples)))


def split_holdout(rows: Sequence[Any], fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """(training rows, held-back rows): ``fraction`` of the *distinct* rows, at most ``MAX_HOLDOUT``.

    Rows are compared by content, so an oversampled row and its copies fall on the same side:
    a copy in training would make the held-back loss meaningless. Each held-back row appears
    once. With fewer than ``MIN_ROWS_FOR_HOLDOUT`` distinct rows nothing is held back.
    """
    keys = [canonical_json(r) for r in rows]
    distinct = list(dict.fromkeys(keys))
    size = min(MAX_HOLDOUT, round(fraction * len(distinct))) if len(distinct) >= MIN_ROWS_FOR_HOLDOUT else 0
    if size <= 0:
        return list(rows), []
    held = set(random.Random(seed).sample(distinct, size))
    train = [r for r, k in zip(rows, keys, strict=True) if k not in held]
    seen: set[str] = set()
    holdout = []
    for r, k in zip(rows, keys, strict=True):
        if k in held and k not in seen:
            seen.add(k)
            holdout.append(r)
    return train, holdout


def eval_interval(total_steps: int, evaluations: int = 8) -> int:
    """Steps between held-back evaluations: about ``evaluations`` per run, never more often than every 5."""
    return max(5, math.ceil(total_steps / evaluations))


@dataclass
class EarlyStopping:
    """Tracks held-back losses; ``should_stop`` after ``patience`` evaluations without a new best."""

    patience: int = 2
    min_delta: float = 1e-4
    best: float = math.inf
    best_step: int = 0
    history: list[tuple[int, float]] = field(default_factory=list)
    _bad: int = 0

    def update(self, step: int, loss: float) -> bool:
        """Record ``loss`` at ``step``; True when it is the best so far (the caller keeps those weights)."""
        self.history.append((step, loss))
        if loss < self.best - self.min_delta:
            self.best, self.best_step, self._bad = loss, step, 0
            return True
        self._bad += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self._bad >= self.patience
