"""Feedback(score, text): a metric may explain its score; everything numeric sees the score."""

from __future__ import annotations

import pytest

import lmdsl
from lmdsl import Example, Predict, program
from lmdsl.evaluate import Evaluate, Feedback, split_feedback
from lmdsl.optimizers import BootstrapFewShot


@program
class Echo:
    def __init__(self):
        self.gen = Predict("question -> answer")

    def forward(self, question):
        return self.gen(question=question)


ROWS = [Example(question=f"q{i}", answer=f"a{i}").with_inputs("question") for i in range(4)]


def explained(example, prediction, trace=None):
    if prediction.answer == example.answer:
        return Feedback(1.0, "right")
    return Feedback(0.0, f"expected {example.answer}, got {prediction.answer}")


def right_on_even(inputs):
    i = int(inputs["question"][1:])
    return {"answer": f"a{i}" if i % 2 == 0 else "wrong"}


def test_feedback_is_its_score_for_numbers_and_truth():
    fb = Feedback(0.75, "close")
    assert float(fb) == 0.75 and bool(fb) and not Feedback(0, "no")
    assert split_feedback(fb) == (0.75, "close")
    assert split_feedback(True) == (1.0, None)
    assert lmdsl.Feedback is Feedback
    with pytest.raises(TypeError, match="score must be a number"):
        Feedback("high", "x")
    with pytest.raises(TypeError, match="text must be a str"):
        Feedback(1.0, 3)


def test_evaluate_and_bootstrap_read_a_feedback_metric_as_its_score(scripted):
    scripted(right_on_even)
    assert Evaluate(ROWS, explained, display_progress=False)(Echo()).score == 50.0
    optimizer = BootstrapFewShot(explained, max_bootstrapped_demos=4, max_labeled_demos=0)
    optimizer.verbose = False
    compiled = optimizer.compile(Echo(), trainset=ROWS)
    assert [d.question for d in compiled.gen.demos] == ["q0", "q2"]  # only the passing runs
