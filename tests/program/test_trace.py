"""The trace records each predictor call with inputs the caller can no longer change."""

from __future__ import annotations

import threading

from lmdsl import Predict
from lmdsl.program import trace as _trace
from lmdsl.program import tracing


def test_trace_inputs_are_not_changed_by_later_mutation(scripted):
    scripted([{"answer": "a"}])
    predict = Predict("context: list[str], question -> answer")
    context = ["passage one", "passage two"]
    nested = {"keys": ["x"]}
    with tracing() as trace:
        predict(context=context, question="q?")
        _trace.record(predict, {"nested": nested}, None)
    context.append("added later")
    context[0] = "changed"
    nested["keys"].append("y")
    assert trace[0].inputs == {"context": ["passage one", "passage two"], "question": "q?"}
    assert trace[1].inputs == {"nested": {"keys": ["x"]}}


def test_trace_keeps_atomic_values_and_uncopyable_values_by_reference():
    text = "".join(["a", "b"] * 50)
    lock = threading.Lock()  # deepcopy raises TypeError on locks
    with tracing() as trace:
        _trace.record(object(), {"text": text, "n": 3, "lock": lock}, None)
    assert trace[0].inputs["text"] is text
    assert trace[0].inputs["lock"] is lock
    assert trace[0].inputs["n"] == 3
