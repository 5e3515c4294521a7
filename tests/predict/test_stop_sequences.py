"""Stop sequences come from the signature's inputs, unless a grammar already bounds the reply."""

import lmdsl
from lmdsl.testing import ScriptedLM


def test_remote_style_models_stop_before_an_invented_next_input_block():
    lm = ScriptedLM([{"answer": "Paris"}])
    lmdsl.configure(lm=lm)
    lmdsl.Predict("context, question -> answer")(context="c", question="q")
    assert lm.history[-1]["params"]["stop"] == ["\n\nContext:", "\n\nQuestion:"]


def test_explicit_stop_wins():
    lm = ScriptedLM([{"answer": "Paris"}], stop=["END"])
    lmdsl.configure(lm=lm)
    lmdsl.Predict("question -> answer")(question="q")
    assert lm.history[-1]["params"]["stop"] == ["END"]


def test_grammar_models_get_no_stop():
    lm = ScriptedLM([{"answer": "Paris"}], constrain="gbnf")
    lmdsl.configure(lm=lm)
    lmdsl.Predict("question -> answer")(question="q")
    assert "stop" not in lm.history[-1]["params"]
