"""MultiChainComparison: M attempts in, one compared and corrected answer out."""

from __future__ import annotations

import pytest

import lmdsl
from lmdsl import ChainOfThought, Prediction, signature
from lmdsl.errors import SignatureError
from lmdsl.predict.multi_chain_comparison import MultiChainComparison

QA = signature("question -> answer: int", instructions="Answer the arithmetic question.")


def test_signature_has_the_attempts_and_a_rationale():
    mcc = MultiChainComparison(QA, M=3)
    sig = mcc.predict.signature
    assert list(sig.inputs) == ["question", "reasoning_attempt_1", "reasoning_attempt_2", "reasoning_attempt_3"]
    assert list(sig.outputs) == ["rationale", "answer"]
    assert sig.outputs["answer"].type is int
    assert sig.instructions.startswith("Answer the arithmetic question.\n\nYou are given 3 attempts")
    assert [p for p, _ in mcc.named_predictors()] == ["predict"]


def test_compares_sampled_attempts(scripted):
    lm = scripted([
        {"reasoning": "2 times 3 is 6, plus 1", "answer": 7},
        {"reasoning": "2 plus 3 is 5, plus 1", "answer": 6},
        {"reasoning": "2*3+1", "answer": 7},
        {"rationale": "attempt 2 added instead of multiplying", "answer": 7},
    ])
    attempts = ChainOfThought(QA, n=3)(question="2*3+1?")
    assert len(attempts.completions) == 3
    pred = MultiChainComparison(QA, M=3)(attempts, question="2*3+1?")
    assert (pred.rationale, pred.answer) == ("attempt 2 added instead of multiplying", 7)
    prompt = lm.requests[1][-1]["content"]
    assert prompt == (
        "Question: 2*3+1?\n\n"
        "Reasoning Attempt 1: «2 times 3 is 6, plus 1 My answer: 7»\n\n"
        "Reasoning Attempt 2: «2 plus 3 is 5, plus 1 My answer: 6»\n\n"
        "Reasoning Attempt 3: «2*3+1 My answer: 7»"
    )


def test_accepts_lists_of_predictions_and_dicts(scripted):
    lm = scripted([{"rationale": "r", "answer": 1}])
    attempts = [Prediction(answer=1), {"rationale": "because", "answer": 2}, Prediction(reasoning="hm", answer=1)]
    MultiChainComparison(QA, M=2)(attempts, question="q")  # extra attempts beyond M are ignored
    prompt = lm.requests[0][-1]["content"]
    assert "Reasoning Attempt 1: «My answer: 1»" in prompt
    assert "Reasoning Attempt 2: «because My answer: 2»" in prompt
    assert "Attempt 3" not in prompt


def test_several_outputs_are_listed():
    mcc = MultiChainComparison("question -> answer, confidence: float", M=1)
    assert mcc.format_attempt({"answer": "Paris", "confidence": 0.9}) == "«My answer: answer = Paris; confidence = 0.9»"


def test_too_few_attempts_and_bad_input():
    mcc = MultiChainComparison(QA, M=3)
    with pytest.raises(ValueError, match="needs 3 attempts, got 2"):
        mcc([{"answer": 1}, {"answer": 2}], question="q")
    with pytest.raises(TypeError, match="Prediction or a list"):
        mcc("not attempts", question="q")
    with pytest.raises(SignatureError, match="rationale"):
        MultiChainComparison("question -> rationale")
    with pytest.raises(ValueError):
        MultiChainComparison(QA, M=0)


def test_registered_as_a_module():
    assert lmdsl.get_module("MultiChainComparison") is MultiChainComparison
