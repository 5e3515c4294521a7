"""configure(callbacks=[...]): module and LM calls are observed, in order, with matching call ids."""

from __future__ import annotations

import asyncio

import pytest

import lmdsl
from lmdsl import ChainOfThought, Predict, program
from lmdsl.callbacks import BaseCallback


class Recorder(BaseCallback):
    def __init__(self):
        self.events = []

    def on_module_start(self, call_id, instance, inputs):
        self.events.append(("module_start", call_id, type(instance).__name__, dict(inputs)))

    def on_module_end(self, call_id, outputs, exception=None):
        self.events.append(("module_end", call_id, type(exception).__name__ if exception else None))

    def on_lm_start(self, call_id, instance, inputs):
        self.events.append(("lm_start", call_id, instance.model, len(inputs["messages"])))

    def on_lm_end(self, call_id, outputs, exception=None):
        self.events.append(("lm_end", call_id, outputs.text if outputs else None))


@program
class Two:
    def __init__(self):
        self.first = Predict("question -> query")
        self.second = ChainOfThought("query -> answer")

    def forward(self, question):
        return self.second(query=self.first(question=question).query)


def _shape(events):
    return [e[0] for e in events]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_module_and_lm_calls_are_observed(scripted, mode):
    scripted([{"query": "q1"}, {"reasoning": "r", "answer": "A"}])
    rec = Recorder()
    lmdsl.configure(callbacks=[rec])
    prog = Two()
    result = prog(question="?") if mode == "sync" else asyncio.run(prog.acall(question="?"))
    assert result.answer == "A"
    assert _shape(rec.events) == [
        "module_start", "module_start", "lm_start", "lm_end", "module_end",
        "module_start", "lm_start", "lm_end", "module_end", "module_end",
    ]
    assert rec.events[0][1:] == (rec.events[0][1], "Two", {"question": "?"})
    assert rec.events[-1][1] == rec.events[0][1]  # the program's end carries its start's id
    assert rec.events[3][2] == "Query: q1"


def test_an_exception_is_reported_and_a_raising_callback_is_ignored(scripted, caplog):
    scripted([])

    class Broken(BaseCallback):
        def on_module_start(self, call_id, instance, inputs):
            raise RuntimeError("observer bug")

    rec = Recorder()
    lmdsl.configure(callbacks=[Broken(), rec])
    with pytest.raises(LookupError):
        Predict("q -> a")(q="?")
    assert rec.events[-1][0] == "module_end" and rec.events[-1][2] == "LookupError"
    assert "observer bug" in caplog.text


def test_without_callbacks_the_lm_is_not_wrapped(scripted):
    from lmdsl.callbacks import watched_lm

    lm = scripted([])
    assert watched_lm(lm) is lm
