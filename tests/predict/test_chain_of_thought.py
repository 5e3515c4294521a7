"""ChainOfThought: a ``reasoning`` output before the signature's outputs."""

from __future__ import annotations

import pytest

import lmdsl
from lmdsl import ChainOfThought, Predict, signature

QA = signature("question -> answer: int", instructions="Answer with a number.")


def test_reasoning_is_prepended():
    cot = ChainOfThought(QA)
    assert list(cot.signature.outputs) == ["reasoning", "answer"]
    assert cot.signature.outputs["reasoning"].desc == "think step by step, briefly"
    assert cot.signature.instructions == QA.instructions
    assert cot.base_signature is QA
    assert isinstance(cot, Predict)


def test_prompt_asks_for_reasoning_first():
    system = ChainOfThought(QA).render(question="2+2?")[0]["content"]
    assert system.endswith("Reply in exactly this format:\nReasoning: <think step by step, briefly>\nAnswer: <an integer>")


def test_call(scripted):
    lm = scripted([{"reasoning": "two and two make four", "answer": 4}])
    pred = ChainOfThought(QA)(question="2+2?")
    assert (pred.reasoning, pred.answer) == ("two and two make four", 4)
    assert lm.history[-1]["outputs"] == ["Reasoning: two and two make four\nAnswer: 4"]
    assert lm.history[-1]["params"]["max_tokens"] == 256  # free-text reasoning is not cut to a label's budget


def test_reply_without_reasoning_label(scripted):
    scripted(["Two and two make four.\nAnswer: 4"])
    pred = ChainOfThought(QA)(question="2+2?")
    assert (pred.reasoning, pred.answer) == ("Two and two make four.", 4)


def test_custom_rationale_field(scripted):
    cot = ChainOfThought(QA, rationale_field="rationale", rationale_desc="why")
    assert list(cot.signature.outputs) == ["rationale", "answer"]
    scripted([{"rationale": "because", "answer": 1}])
    assert cot(question="q").rationale == "because"


def test_reasoning_name_clash():
    with pytest.raises(lmdsl.SignatureError, match=r"duplicate output field 'reasoning'"):
        ChainOfThought(signature("q -> reasoning, answer"))


def test_from_decorated_function_and_string():
    @signature
    def solve(question: str) -> int:
        """Solve."""

    assert list(ChainOfThought(solve).signature.outputs) == ["reasoning", "output"]
    assert list(ChainOfThought("q -> a").signature.outputs) == ["reasoning", "a"]
