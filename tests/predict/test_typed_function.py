"""Calling an ``@signature`` function runs a Predict and returns the typed value."""

from __future__ import annotations

from typing import Literal, NamedTuple, TypedDict

import pytest

import lmdsl
from lmdsl import Predict, TypedFunction, signature


class Answer(NamedTuple):
    rationale: str
    answer: int


class Verdict(TypedDict):
    label: Literal["yes", "no"]
    score: float


@signature
def classify(sentence: str) -> Literal["positive", "negative"]:
    """Classify the sentiment of a movie review sentence.

    Args:
        sentence: one sentence from a review.
    """


@signature
def solve(question: str, hint: str = "none") -> Answer:
    """Solve the problem."""


@signature
def judge(claim: str) -> Verdict:
    """Judge the claim."""


def test_is_a_typed_function_with_its_signature():
    assert isinstance(classify, TypedFunction)
    assert isinstance(classify.signature, lmdsl.Signature)
    assert isinstance(classify.predict, Predict)


def test_single_output_returns_the_value(scripted):
    lm = scripted([{"output": "positive"}])
    assert classify(sentence="A delight.") == "positive"
    assert lm.history[-1]["messages"][-1]["content"] == "Sentence: A delight."


def test_positional_arguments(scripted):
    scripted([{"output": "negative"}])
    assert classify("Dull.") == "negative"


def test_namedtuple_return(scripted):
    scripted([{"rationale": "r", "answer": "12"}])
    result = solve("6*2?")
    assert result == Answer("r", 12) and isinstance(result, Answer)


def test_typeddict_return(scripted):
    scripted([{"label": "yes", "score": 0.9}])
    assert judge(claim="water is wet") == {"label": "yes", "score": 0.9}


def test_default_arguments_are_sent(scripted):
    lm = scripted([{"rationale": "r", "answer": 1}])
    solve(question="q")
    assert lm.history[-1]["messages"][-1]["content"] == "Question: q\n\nHint: none"


def test_bad_call_names_the_function():
    with pytest.raises(TypeError, match=r"^solve\(\): got an unexpected keyword argument 'wrong'$"):
        solve(question="q", wrong=1)
    with pytest.raises(TypeError, match=r"^classify\(\): too many positional arguments$"):
        classify("a", "b")
    with pytest.raises(lmdsl.SignatureError, match=r"missing input 'sentence'"):
        classify()


def test_signature_from_string_returns_a_signature():
    sig = signature("question -> answer", instructions="Answer.")
    assert isinstance(sig, lmdsl.Signature) and sig.instructions == "Answer."


def test_predict_demos_live_on_the_wrapped_predictor(scripted):
    lm = scripted([{"output": "positive"}])
    classify.predict.demos = [lmdsl.Example(sentence="Great.", output="positive")]
    try:
        classify("Nice.")
    finally:
        classify.predict.reset()
    assert lm.history[-1]["messages"][1]["content"] == "Sentence: Great."


# ---- types local to the enclosing function (this file uses `from __future__ import annotations`)
def test_local_literal_alias_and_local_pydantic_model(scripted):
    import pydantic

    Mood = Literal["happy", "sad"]

    class Review(pydantic.BaseModel):
        stars: int
        mood: Mood

    @signature
    def mood_of(text: str) -> Mood:
        """Say the mood."""

    @signature(instructions="Review it.")
    def review(text: str, mood: Mood) -> Review: ...

    assert mood_of.signature.inputs["text"].type is str
    assert mood_of.signature.outputs["output"].type == Mood
    assert review.signature.inputs["mood"].type == Mood
    assert review.signature.outputs["output"].type is Review
    scripted([{"output": "sad"}, {"output": '{"stars": 2, "mood": "sad"}'}])
    assert mood_of("Rain again.") == "sad"
    assert review("Rain again.", "sad") == Review(stars=2, mood="sad")


def test_local_types_still_fail_clearly_when_undefined():
    def outer():
        @signature
        def later(text: str) -> DefinedAfter: ...

        DefinedAfter = int  # after the decorator ran: not resolvable

    with pytest.raises(lmdsl.SignatureError, match=r"^@signature .*later: cannot resolve type hints \(name 'DefinedAfter'"):
        outer()
