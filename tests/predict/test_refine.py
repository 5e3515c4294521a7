"""BestOfN / Refine: first passing attempt, distinct rollouts past the cache, advice fed to the next attempt."""

from __future__ import annotations

import pytest

import lmdsl
from lmdsl import Predict, Prediction, program
from lmdsl.assertions import Assert
from lmdsl.predict.refine import BestOfN, Refine

QA = "question -> answer"


def short(inputs, pred) -> float:
    """1.0 for an answer of at most two words."""
    return 1.0 if len(pred.answer.split()) <= 2 else 0.0


def test_best_of_n_returns_the_first_passing_attempt_with_distinct_rollouts(scripted):
    lm = scripted([{"answer": "a long rambling answer"}, {"answer": "Paris"}, {"answer": "never asked"}],
                  cache=True)
    best = BestOfN(Predict(QA), N=3, reward_fn=short, threshold=1.0)
    assert best(question="Capital of France?").answer == "Paris"
    assert lm.remaining == 1
    params = [e["params"] for e in lm.history]
    assert "rollout_id" not in params[0] and params[0]["temperature"] == 0.0  # attempt 1: an ordinary call
    assert params[1]["rollout_id"] == 1 and params[1]["temperature"] == 1.0
    assert [e["cached"] for e in lm.history] == [False, False]  # the failure was not replayed from the cache
    # the same call again is answered entirely from the cache, attempt by attempt
    assert best(question="Capital of France?").answer == "Paris"
    assert [e["cached"] for e in lm.history][2:] == [True, True] and lm.remaining == 1


def test_best_of_n_returns_the_best_when_none_passes(scripted):
    scripted([{"answer": "one two three"}, {"answer": "one two three four five"}, {"answer": "one two"}])
    scores = {"one two three": 0.5, "one two three four five": 0.2, "one two": 0.7}
    best = BestOfN(Predict(QA), N=3, reward_fn=lambda i, p: scores[p.answer], threshold=0.9)
    assert best(question="q").answer == "one two"


def test_rollout_params_reach_predictors_with_their_own_lm(scripted):
    from lmdsl.testing import ScriptedLM

    own = ScriptedLM([{"answer": "too many words here"}, {"answer": "ok"}])
    scripted([])  # the configured LM is never used
    BestOfN(Predict(QA, lm=own), N=2, reward_fn=short, threshold=1.0)(question="q")
    assert [e["params"].get("rollout_id") for e in own.history] == [None, 1]


def test_fail_count_and_errors(scripted):
    scripted(["no answer marker at all"] * 3 + [{"answer": "fine"}])
    with lmdsl.context(max_reasks=0):
        best = BestOfN(Predict("question -> answer, confidence: float"), N=3, reward_fn=lambda i, p: 1.0,
                       threshold=1.0, fail_count=0)
        with pytest.raises(lmdsl.ParseError):
            best(question="q")
        everything_fails = BestOfN(Predict(QA), N=2, reward_fn=lambda i, p: 1 / 0, threshold=1.0)
        with pytest.raises(ZeroDivisionError):
            everything_fails(question="q")


def test_only_the_chosen_attempt_is_traced(scripted):
    scripted([{"answer": "a long rambling answer"}, {"answer": "Paris"}])
    predictor = Predict(QA)
    with lmdsl.tracing() as trace:
        BestOfN(predictor, N=3, reward_fn=short, threshold=1.0)(question="q")
    assert [(e.predictor, e.outputs.answer) for e in trace] == [(predictor, "Paris")]


def test_a_failed_assert_is_a_failed_attempt(scripted):
    @program
    class Checked:
        def __init__(self):
            self.answer = Predict(QA)

        def forward(self, question):
            pred = self.answer(question=question)
            Assert(pred.answer.islower(), "lower case only")
            return pred

    scripted([{"answer": "LOUD"}, {"answer": "quiet"}])
    with lmdsl.context(max_backtracks=0):
        assert BestOfN(Checked(), N=2, reward_fn=lambda i, p: 1.0, threshold=1.0)(question="q").answer == "quiet"


# ---- Refine -----------------------------------------------------------------------------
def _refine_lm(advice):
    requests = []

    def answer(inputs):
        requests.append(dict(inputs))
        if "trajectory" in inputs:
            return {"discussion": "The answer is too long.", "advice": advice}
        if inputs.get("hint"):
            return {"answer": "Paris"}
        return {"answer": "The capital of France is Paris"}

    return answer, requests


def test_refine_feeds_the_advice_to_the_next_attempt(scripted):
    answer, requests = _refine_lm("Answer with the name only.")
    lm = scripted(answer, cache=True)
    pred = Refine(Predict(QA), N=3, reward_fn=short, threshold=1.0)(question="Capital of France?")
    assert pred.answer == "Paris"
    assert len(requests) == 3  # attempt, advice, attempt
    advice_prompt = lm.requests[1][-1]["content"]
    assert "The capital of France is Paris" in advice_prompt  # the trajectory
    assert "1.0 for an answer of at most two words" in advice_prompt  # the reward function's source
    assert "Target Reward: 1.0" in advice_prompt and "Reward: 0.0" in advice_prompt
    retry = lm.requests[2][-1]["content"]
    assert "Hint: Answer with the name only." in retry
    assert lm.history[2]["params"]["rollout_id"] == 1
    assert sorted(requests[2]) == ["hint", "question"]


def test_refine_gives_each_predictor_its_own_advice(scripted):
    @program
    class TwoStep:
        def __init__(self):
            self.rewrite = Predict("question -> query")
            self.answer = Predict("query -> answer")

        def forward(self, question):
            return self.answer(query=self.rewrite(question=question).query)

    hints = []

    def answer(inputs):
        if "trajectory" in inputs:
            assert "Step rewrite" in inputs["trajectory"] and "Step answer" in inputs["trajectory"]
            return {"discussion": "d", "advice": {"rewrite": "keep the query", "answer": "one word"}}
        hints.append(inputs.get("hint"))
        if "question" in inputs:
            return {"query": inputs["question"]}
        return {"answer": "Paris" if inputs.get("hint") else "It is Paris, I think"}

    scripted(answer)
    pred = Refine(TwoStep(), N=2, reward_fn=short, threshold=1.0)(question="q")
    assert pred.answer == "Paris"
    assert hints == [None, None, "keep the query", "one word"]


def test_refine_without_usable_advice_still_retries(scripted):
    answers = iter([{"answer": "far too many words"}, "garbage without the markers", "still garbage",
                    "and more garbage", {"answer": "ok"}])
    scripted(lambda inputs: next(answers))
    pred = Refine(Predict(QA), N=2, reward_fn=short, threshold=1.0)(question="q")
    assert pred.answer == "ok"


def test_registered_and_validated():
    assert lmdsl.get_module("BestOfN") is BestOfN and lmdsl.get_module("Refine") is Refine
    assert lmdsl.BestOfN is BestOfN and lmdsl.Refine is Refine
    with pytest.raises(ValueError, match="N must be an int >= 1"):
        BestOfN(Predict(QA), N=0, reward_fn=short, threshold=1.0)
    with pytest.raises(TypeError, match="reward_fn must be callable"):
        Refine(Predict(QA), N=2, reward_fn=None, threshold=1.0)
    refine = Refine(Predict(QA), N=2, reward_fn=short, threshold=1.0)
    assert [p for p, _ in refine.named_predictors()] == ["module"]  # the advisor is not a learnable part
    assert isinstance(Prediction(answer="x"), Prediction)
