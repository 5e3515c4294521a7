"""Even out training examples per answer: repeat the rarer answers (oversample) or cut the commoner.

Passing runs inherit the teacher's bias: a zero-shot SST-2 teacher that mostly says "negative"
passed 104 positive and 23 negative runs on 200 rows. Cutting every answer to the rarest count
trained on 46 of those 127 runs; oversampling repeats the 23 until there are 104 of each, so
no good run is thrown away.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal, TypeVar

from lmdsl.errors import UsageError

T = TypeVar("T")
BalanceMode = Literal["oversample", "cut", "none"]
MODES: tuple[BalanceMode, ...] = ("oversample", "cut", "none")


def balance_mode(value: object) -> BalanceMode:
    """``"oversample"``, ``"cut"`` or ``"none"``; ``True`` means the default (oversample), ``False`` none."""
    if value is True:
        return "oversample"
    if value is False or value is None:
        return "none"
    if value in MODES:
        return value
    raise UsageError(f"balance must be one of {', '.join(map(repr, MODES))} (or True/False), got {value!r}")


def rebalance(items: list[T], key: Callable[[T], str], mode: BalanceMode,
              seed: int) -> tuple[list[T], dict[str, int], dict[str, int]]:
    """(balanced items, count per answer before, count per answer after).

    ``cut`` keeps a seeded random sample of the rarest answer's size from every answer, in the
    input order. ``oversample`` keeps every item in the input order and appends, per rarer
    answer, whole repeats of that answer's items plus a seeded random sample of them, up to
    the commonest answer's count. Nothing is balanced (``mode="none"``, a single answer, or
    an item with no answer key ``""``) -> the items unchanged and ``after == before``.
    """
    groups: dict[str, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    before = {k: len(v) for k, v in groups.items()}
    if mode == "none" or len(groups) < 2 or "" in groups:
        return list(items), before, dict(before)
    rng = random.Random(seed)
    if mode == "cut":
        size = min(before.values())
        chosen = {id(x) for group in groups.values() for x in rng.sample(group, size)}
        return [x for x in items if id(x) in chosen], before, {k: size for k in groups}
    size = max(before.values())
    extra: list[T] = []
    for group in groups.values():
        missing = size - len(group)
        extra += group * (missing // len(group)) + rng.sample(group, missing % len(group))
    return list(items) + extra, before, {k: size for k in groups}
