"""Scoring programs on a devset with a metric."""

from lmdsl.evaluate.evaluate import EvalRow, Evaluate, EvaluationResult, MetricError
from lmdsl.evaluate.feedback import Feedback, split_feedback
from lmdsl.evaluate.metrics import (
    answer_exact_match,
    answer_in_passages,
    exact_match,
    f1,
    f1_score,
    normalize_text,
)

__all__ = [
    "EvalRow", "Evaluate", "EvaluationResult", "Feedback", "MetricError", "answer_exact_match", "answer_in_passages",
    "exact_match", "f1", "f1_score", "normalize_text", "split_feedback",
]
