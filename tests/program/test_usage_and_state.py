"""configure(track_usage=True) -> Prediction.get_lm_usage(); Module.dump_state()/load_state()."""

from __future__ import annotations

import asyncio

import pytest

import lmdsl
from lmdsl import Example, Predict, program
from lmdsl.errors import LoadError
from lmdsl.testing import ScriptedLM


@program
class Two:
    def __init__(self):
        self.first = Predict("question -> query")
        self.second = Predict("query -> answer", lm=ScriptedLM([{"answer": "A"}] * 2, model="other/model"))

    def forward(self, question):
        return self.second(query=self.first(question=question).query)


def test_usage_by_model_when_tracked(scripted):
    scripted([{"query": "q1"}, {"query": "q1"}])
    lmdsl.configure(track_usage=True)
    pred = Two()(question="what?")
    usage = pred.get_lm_usage()
    assert set(usage) == {"scripted/lm", "other/model"}
    for row in usage.values():
        assert row["total_tokens"] == row["prompt_tokens"] + row["completion_tokens"] > 0
    async_pred = asyncio.run(Two().acall(question="what?"))
    assert async_pred.get_lm_usage() == usage


def test_no_usage_unless_tracked(scripted):
    scripted([{"query": "q1"}])
    assert Two()(question="what?").get_lm_usage() is None


def test_dump_and_load_state_round_trip(scripted):
    scripted([])
    prog = Two()
    prog.first.demos = [Example(question="q", query="x").with_inputs("question")]
    state = prog.dump_state()
    assert state["predictors"]["first"]["demos"] == [{"question": "q", "query": "x"}]
    fresh = Two().load_state(state)
    assert [d.query for d in fresh.first.demos] == ["x"]
    assert fresh.dump_state() == state


def test_load_state_is_checked(scripted):
    scripted([])
    state = Two().dump_state()
    del state["predictors"]["second"]
    with pytest.raises(LoadError, match=r"^state: predictors do not match"):
        Two().load_state(state)
    with pytest.raises(LoadError, match="not an lmdsl program"):
        Two().load_state({"demos": []})
