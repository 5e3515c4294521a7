"""``n=`` sampling on Predict (``Prediction.completions``) and ``majority`` voting over them."""

from __future__ import annotations

from typing import Literal

import pytest

import lmdsl
from lmdsl import ChainOfThought, Predict, Prediction, majority, signature
from lmdsl.testing import ScriptedLM

QA = signature("question -> answer: int")
LABEL = signature("sentence -> sentiment: Literal['positive', 'negative']")


class ParamsLM(ScriptedLM):
    """Records the parameters of every call."""

    def __init__(self, answers, **kwargs):
        super().__init__(answers, **kwargs)
        self.params: list[dict] = []

    def _complete(self, messages, params):
        self.params.append(dict(params))
        return super()._complete(messages, params)


def test_n_gives_every_parsed_completion(scripted):
    lm = scripted([{"answer": 3}, {"answer": 4}, {"answer": 3}])
    pred = Predict(QA, n=3)(question="q")
    assert pred.completions == [{"answer": 3}, {"answer": 4}, {"answer": 3}]
    assert pred.answer == 3  # the first completion is the prediction's value
    assert len(lm.history) == 1  # one LM call for all samples


def test_n_per_call_and_sampling_temperature():
    lm = ParamsLM([{"answer": 1}] * 5)
    lmdsl.configure(lm=lm)
    pred = Predict(QA)(question="q", config={"n": 2})
    assert len(pred.completions) == 2
    assert lm.params[0]["n"] == 2 and lm.params[0]["temperature"] == 0.7  # greedy samples would be identical
    Predict(QA, n=3, temperature=1.0)(question="q")
    assert lm.params[1]["temperature"] == 1.0


def test_unparseable_samples_are_dropped(scripted):
    scripted(["Answer: 5", "no idea", "Answer: 6"])
    pred = Predict(QA, n=3)(question="q")
    assert pred.completions == [{"answer": 5}, {"answer": 6}]


def test_majority_over_completions(scripted):
    scripted([
        {"reasoning": "a", "answer": 4},
        {"reasoning": "b", "answer": 5},
        {"reasoning": "c", "answer": 5},
        {"reasoning": "d", "answer": 4},
        {"reasoning": "e", "answer": 5},
    ])
    pred = ChainOfThought(QA, n=5)(question="q")
    voted = majority(pred)
    assert voted.answer == 5 and voted.reasoning == "b"  # the first completion with the winning answer
    assert len(voted.completions) == 5 and voted.completions[0] == {"reasoning": "b", "answer": 5}


def test_majority_ties_go_to_the_earliest_and_text_is_normalised():
    preds = [Prediction(answer="Paris."), Prediction(answer="london"), Prediction(answer="paris"),
             Prediction(answer="London")]
    assert majority(preds).answer == "Paris."
    assert majority([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "x"}], field="a").a == 2
    assert majority([{"a": "X"}, {"a": "x"}, {"a": "y"}], normalize=None).a == "X"
    with pytest.raises(ValueError, match="nothing to vote"):
        majority([])


def test_majority_of_labels_sampled_from_a_predictor(scripted):
    scripted(["negative", "positive", "positive"])
    pred = Predict(LABEL, n=3)(sentence="fine, I guess")
    assert majority(pred).sentiment == "positive"
    assert LABEL.outputs["sentiment"].type == Literal["positive", "negative"]


def test_majority_is_exported():
    assert lmdsl.majority is majority
