"""Reading a label from top log-probabilities (lmdsl.lm.label_logprobs)."""

from __future__ import annotations

import math

from lmdsl.lm.label_logprobs import alternatives, read_label, reply_logprob

LABELS = ["negative", "positive"]


def test_the_first_position_that_could_begin_a_label_decides_by_probability_mass():
    positions = [[("The", -0.1), (" neg", math.log(0.02)), ("Negative", math.log(0.03)), ("Positive", math.log(0.04))],
                 [(" positive", -0.01)]]
    assert read_label(positions, LABELS) == "negative"  # 0.05 against 0.04, before the later position


def test_one_letter_tokens_and_tokens_that_begin_several_labels_do_not_count():
    labels = ["description", "definition", "human"]
    positions = [[("d", -0.1), ("de", -0.2), ("A", -0.3)], [("hu", -3.0), ("def", -4.0)]]
    assert read_label(positions, labels) == "human"  # "d"/"de" fit two labels; "hu" outweighs "def"
    assert read_label([[("A", -0.1), ("The", -0.2)]], ["abbreviation", "entity"]) is None
    assert read_label([[("x", -0.1)]], ["x", "y"]) == "x"  # a label one letter long counts


def test_nothing_to_read_gives_none():
    assert read_label(None, LABELS) is None
    assert read_label([], LABELS) is None
    assert read_label([[("Hello", -0.1)]], LABELS) is None


def test_alternatives_come_from_a_response_choice_object_or_dict():
    class Alt:
        def __init__(self, token, logprob):
            self.token, self.logprob, self.top_logprobs = token, logprob, [{"token": token, "logprob": logprob}]

    class Choice:
        logprobs = type("L", (), {"content": [Alt("pos", -0.5)]})()

    assert alternatives(Choice()) == [[("pos", -0.5)]]
    assert alternatives(type("C", (), {"logprobs": None})()) is None


def test_a_forced_reply_scores_its_own_tokens_not_the_end_of_turn_token_after_it():
    # llama-server's logprobs for a forced "Label: human": the stop token follows with its own logprob
    content = [{"token": "Label", "logprob": -12.0}, {"token": ":", "logprob": -0.5},
               {"token": " human", "logprob": -8.5}, {"token": "", "logprob": -5.0}]
    assert reply_logprob(content, "Label: human") == -21.0
    assert reply_logprob(content[:3], "Label: human") == -21.0  # llama_cpp.server lists no stop token
