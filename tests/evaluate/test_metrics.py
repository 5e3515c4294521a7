"""Metric helpers against known cases of the SQuAD v1.1 and HotPotQA evaluation scripts."""

from __future__ import annotations

import pytest

from lmdsl import Example, Prediction
from lmdsl.evaluate import answer_exact_match, answer_in_passages, exact_match, f1, f1_score, normalize_text
from lmdsl.evaluate.metrics import exact_match_score


@pytest.mark.parametrize(("text", "expected"), [
    ("The Eiffel Tower", "eiffel tower"),
    ("  an   apple, a pear and THE plum! ", "apple pear and plum"),
    ("theater anthem", "theater anthem"),          # articles only as whole words
    ("Don't stop.", "dont stop"),                  # punctuation removed, not replaced by a space
    ("U.S.A.", "usa"),
    ("1,234", "1234"),
    ("the-the", "thethe"),                          # punctuation goes before articles, as in SQuAD
    ("", ""),
])
def test_normalize_text_follows_squad(text, expected):
    assert normalize_text(text) == expected


def test_normalize_text_accepts_non_strings_and_enums():
    import enum

    class Label(enum.Enum):
        POS = "Positive"

    assert normalize_text(42) == "42"
    assert normalize_text(Label.POS) == "positive"


@pytest.mark.parametrize(("prediction", "gold", "expected"), [
    ("the Eiffel Tower.", "Eiffel tower", True),
    ("Eiffel", "Eiffel Tower", False),
    ("A cat", "the cat", True),
])
def test_exact_match_score(prediction, gold, expected):
    assert exact_match_score(prediction, gold) is expected


@pytest.mark.parametrize(("prediction", "gold", "expected"), [
    ("the cat sat", "a cat sat down", 0.8),        # p=1, r=2/3
    ("cat cat", "cat", 2 * 0.5 * 1 / 1.5),         # repeated tokens counted with multiplicity
    ("Paris", "paris.", 1.0),
    ("dog", "cat", 0.0),
    ("", "cat", 0.0),
    # HotPotQA: yes / no / noanswer score only on an exact match
    ("yes", "yes it is", 0.0),
    ("yes it is", "yes", 0.0),
    ("no", "No.", 1.0),
    ("noanswer", "no answer", 0.0),
    ("yes", "no", 0.0),
])
def test_f1_score(prediction, gold, expected):
    assert f1_score(prediction, gold) == pytest.approx(expected)


def test_exact_match_metric_compares_every_label_field_the_prediction_has():
    example = Example(question="q", answer="The Nile", source="wiki").with_inputs("question")
    assert exact_match(example, Prediction(answer="nile")) is True
    assert exact_match(example, Prediction(answer="nile", source="wiki.")) is True
    assert exact_match(example, Prediction(answer="nile", source="book")) is False
    assert exact_match(example, Prediction(answer="amazon")) is False


def test_exact_match_metric_accepts_several_golds():
    example = Example(question="q", answer=["NYC", "New York City"]).with_inputs("question")
    assert exact_match(example, Prediction(answer="new york city")) is True
    assert exact_match(example, Prediction(answer="York")) is False


def test_exact_match_metric_names_the_fields_when_none_match():
    example = Example(question="q", answer="x").with_inputs("question")
    with pytest.raises(ValueError, match=r"^metric: the prediction has none of the example's label fields "
                                         r"\(answer\); prediction fields: label$"):
        exact_match(example, Prediction(label="x"))


def test_f1_metric_takes_the_best_gold():
    example = Example(question="q", answer=["Barack Obama", "the president"]).with_inputs("question")
    assert f1(example, Prediction(answer="President Obama")) == pytest.approx(2 / 3)  # vs "the president"
    assert f1(example, Prediction(answer="Barack Obama")) == 1.0


def test_answer_exact_match():
    example = Example(question="q", answer="Paris").with_inputs("question")
    assert answer_exact_match(example, Prediction(answer="paris!")) is True
    assert answer_exact_match(example, Prediction(answer="Lyon")) is False


def test_answer_in_passages_with_strings_and_passage_objects():
    from lmdsl import Passage

    example = Example(question="q", answer="Marie Curie").with_inputs("question")
    assert answer_in_passages(example, Prediction(context=["Pierre met Marie Curie in Paris."])) is True
    assert answer_in_passages(example, Prediction(context=["Pierre met Marie in Paris."])) is False
    passages = [Passage(id="1", text="Physicist Marie  Curie won twice.")]
    assert answer_in_passages(example, Prediction(passages=passages)) is True
    assert answer_in_passages(example, Prediction(answer="x")) is False
