"""Metrics ``metric(example, prediction, trace=None) -> float | bool``, with SQuAD/HotPotQA normalisation."""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any

from lmdsl.errors import UsageError

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_text(text: Any) -> str:
    """Lower case, drop punctuation and articles, squeeze spaces (the SQuAD/HotPotQA recipe)."""
    s = str(getattr(text, "value", text)).lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _golds(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _label_fields(example: Any, prediction: Any) -> list[str]:
    keys = example.labels().keys() if getattr(example, "input_keys", None) is not None else example.keys()
    fields = [k for k in keys if k in prediction]
    if not fields:
        raise UsageError(
            f"metric: the prediction has none of the example's label fields "
            f"({', '.join(keys)}); prediction fields: {', '.join(prediction.keys())}"
        )
    return fields


def exact_match_score(prediction: Any, gold: Any) -> bool:
    return normalize_text(prediction) == normalize_text(gold)


def f1_score(prediction: Any, gold: Any) -> float:
    pred_tokens = normalize_text(prediction).split()
    gold_tokens = normalize_text(gold).split()
    # HotPotQA: yes/no/noanswer answers score only on an exact match.
    special = {"yes", "no", "noanswer"}
    if (" ".join(pred_tokens) in special or " ".join(gold_tokens) in special) and pred_tokens != gold_tokens:
        return 0.0
    common = Counter(pred_tokens) & Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(example: Any, prediction: Any, trace: Any = None) -> bool:
    """Every label field the prediction has equals the example's (any of several golds)."""
    return all(
        any(exact_match_score(prediction[f], g) for g in _golds(example[f])) for f in _label_fields(example, prediction)
    )


def f1(example: Any, prediction: Any, trace: Any = None) -> float:
    """Token F1 of the first shared label field (max over several golds)."""
    field = _label_fields(example, prediction)[0]
    return max(f1_score(prediction[field], g) for g in _golds(example[field]))


def answer_exact_match(example: Any, prediction: Any, trace: Any = None) -> bool:
    return any(exact_match_score(prediction.answer, g) for g in _golds(example.answer))


def answer_in_passages(example: Any, prediction: Any, trace: Any = None) -> bool:
    """The gold answer occurs (normalised) in the retrieved passages / context of the prediction."""
    passages = prediction.get("passages") or prediction.get("context") or []
    texts = [normalize_text(getattr(p, "text", p)) for p in _golds(passages)]
    return any(normalize_text(g) in t for g in _golds(example.answer) for t in texts)
