"""`majority`: vote over several predictions or completions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from lmdsl.errors import UsageError
from lmdsl.primitives import Prediction


def _default_normalize(value: Any) -> Any:
    from lmdsl.evaluate.metrics import normalize_text

    return normalize_text(value) if isinstance(value, str) else value


def majority(
    predictions: Prediction | Sequence[Any],
    *,
    field: str | None = None,
    normalize: Callable[[Any], Any] | None = _default_normalize,
) -> Prediction:
    """The completion whose ``field`` (default: the last output) is most common; earlier wins ties.

    Accepts a Prediction with several ``completions`` (``n=``), or a list of Predictions/dicts.
    """
    completions: list[dict[str, Any]]
    if isinstance(predictions, Prediction):
        completions = predictions.completions
    else:
        completions = [p.to_dict() if hasattr(p, "to_dict") else dict(p) for p in predictions]
    if not completions:
        raise UsageError("majority: nothing to vote over")
    field = field or list(completions[0])[-1]
    keys = [normalize(c.get(field)) if normalize else c.get(field) for c in completions]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return Prediction.from_completions(completions)
    top = max(counts.values())
    winner_key = next(k for k in keys if k is not None and counts[k] == top)
    winner = next(c for c, k in zip(completions, keys) if k == winner_key)
    ordered = [winner] + [c for c in completions if c is not winner]
    return Prediction.from_completions(ordered)
