"""The Pareto frontier over valset rows, and choosing a parent from it.

A candidate is on the frontier when it has the best score on at least one row that no
better-on-average candidate also has best. A specialist that is best on a few rows survives
even when its mean is lower; parents are drawn with probability proportional to the number
of rows they are best on, so the search keeps several lines of improvement alive.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def fronts(scores: Sequence[Sequence[float]]) -> list[set[int]]:
    """For every row, the candidates with the highest score on it."""
    if not scores:
        return []
    rows = len(scores[0])
    out = []
    for r in range(rows):
        top = max(s[r] for s in scores)
        out.append({c for c, s in enumerate(scores) if s[r] == top})
    return out


def frontier(scores: Sequence[Sequence[float]]) -> dict[int, int]:
    """Non-dominated candidates -> how many rows each is best on.

    Candidates are considered worst mean first; one is dropped when every row it is best on
    is also best for another candidate still standing (it adds no row of its own). Of
    candidates tied everywhere, the one with the higher mean (then the older) stays.
    """
    per_row = fronts(scores)
    means = [sum(s) / len(s) if len(s) else 0.0 for s in scores]
    standing = {c for f in per_row for c in f}
    for c in sorted(standing, key=lambda c: (means[c], -c)):
        mine = [f for f in per_row if c in f]
        if all(any(o != c and o in standing for o in f) for f in mine):
            standing.discard(c)
    return {c: sum(1 for f in per_row if c in f) for c in sorted(standing)}


def select_parent(scores: Sequence[Sequence[float]], rng: random.Random) -> int:
    """A frontier candidate, drawn in proportion to the rows it is best on."""
    weights = frontier(scores)
    if not weights:
        return 0
    candidates = list(weights)
    return rng.choices(candidates, weights=[weights[c] for c in candidates])[0]


def best_mean(scores: Sequence[Sequence[float]]) -> int:
    """The candidate with the highest mean score (the oldest on ties)."""
    means = [sum(s) / len(s) if len(s) else 0.0 for s in scores]
    return max(range(len(means)), key=lambda c: (means[c], -c))
