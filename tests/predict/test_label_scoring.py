"""Predict with label_bias: each label is scored (LM.score) instead of generated."""

from __future__ import annotations

import enum
from typing import Literal

import pytest

import lmdsl
from lmdsl.errors import SignatureError
from lmdsl.program.trace import tracing
from lmdsl.testing import ScriptedLM


@lmdsl.signature
def sentiment(text: str) -> Literal["negative", "positive"]:
    """Classify the sentiment.

    Returns:
        label: the sentiment.
    """


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@lmdsl.signature
def paint(thing: str) -> Colour:
    """The colour of a thing.

    Returns:
        colour: its colour.
    """


def test_the_best_scored_label_wins_after_its_bias():
    seen = []

    def scorer(inputs, replies):
        seen.append(replies)
        return [-1.0, -2.0]  # the model prefers "negative" by 1 nat

    lmdsl.configure(lm=ScriptedLM([], scorer=scorer))
    predict = lmdsl.Predict(sentiment)
    predict.label_bias = {"negative": 0.0, "positive": 0.0}
    assert predict(text="fine").label == "negative"
    predict.label_bias = {"positive": 1.5}  # a missing label has bias 0
    assert predict(text="fine").label == "positive"
    assert seen[0] == ["Label: negative", "Label: positive"]  # whole replies, in the adapter's format


def test_a_tie_goes_to_the_first_label():
    lmdsl.configure(lm=ScriptedLM([], scorer=lambda inputs, replies: [0.0, 0.0]))
    predict = lmdsl.Predict(sentiment)
    predict.label_bias = {}
    assert predict(text="x").label == "negative"


def test_bool_and_enum_labels_are_parsed_back_to_their_types():
    lmdsl.configure(lm=ScriptedLM([], scorer=lambda inputs, replies: [0.0, 1.0]))
    yes_no = lmdsl.Predict("claim -> holds: bool")
    yes_no.label_bias = {}
    assert yes_no(claim="c").holds is False  # choices are [yes, no]; "no" scored higher
    colour = lmdsl.Predict(paint)
    colour.label_bias = {}
    assert colour(thing="sky").colour is Colour.BLUE


def test_scoring_is_traced_and_cached_like_a_call():
    calls = []

    def scorer(inputs, replies):
        calls.append(inputs)
        return [0.0, -3.0]

    lm = ScriptedLM([], scorer=scorer, cache=True, model="scripted/scoring-cache")
    lmdsl.configure(lm=lm)
    predict = lmdsl.Predict(sentiment)
    predict.label_bias = {}
    with tracing() as trace:
        predict(text="same")
    predict(text="same")
    (entry,) = trace
    assert entry.inputs == {"text": "same"} and entry.outputs.label == "negative"
    assert len(calls) == 1  # the second call came from the cache
    assert lm.history[-1]["scores"] == [0.0, -3.0] and lm.history[-1]["cached"] is True
    assert lm.usage.to_dict()["lm_calls"] >= 1


def test_label_bias_on_a_signature_without_a_single_label_output_is_a_clear_error():
    lmdsl.configure(lm=ScriptedLM([], scorer=lambda inputs, replies: []))
    predict = lmdsl.Predict("question -> answer")
    predict.label_bias = {}
    with pytest.raises(SignatureError, match="label_bias needs a signature whose one output is a label"):
        predict(question="q")


def test_reset_clears_the_bias():
    predict = lmdsl.Predict(sentiment)
    predict.label_bias = {"positive": 1.0}
    assert predict.reset_copy().label_bias is None
    assert predict.deepcopy().label_bias == {"positive": 1.0}
