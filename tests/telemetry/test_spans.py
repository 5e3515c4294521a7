"""Spans for a two-predictor program under ScriptedLM: structure, LM attributes, errors, off by default."""

from __future__ import annotations

import json
from typing import Literal

import pytest

import lmdsl
from lmdsl import telemetry
from lmdsl.errors import ParseError
from lmdsl.testing import ScriptedLM

pytest.importorskip("opentelemetry.sdk")


@lmdsl.signature
def topic(question: str) -> str:
    """Name the topic of the question in one word."""


@lmdsl.signature
def kind(question: str, topic: str) -> Literal["person", "place", "thing"]:
    """Say what kind of entity the question asks for."""


@lmdsl.program
class TwoStep:
    def __init__(self):
        self.first = lmdsl.Predict(topic)
        self.second = lmdsl.ChainOfThought(kind)

    def forward(self, question: str):
        t = self.first(question=question).output
        return self.second(question=question, topic=t)


def _answers(inputs):
    if "topic" in inputs:
        return {"reasoning": "a city", "output": "place"}
    return {"output": "geography"}


def by_name(spans, prefix):
    return [s for s in spans if s.name.startswith(prefix)]


def test_program_module_and_lm_spans_nest(spans, scripted):
    scripted(_answers)
    assert TwoStep()(question="Where is Paris?").output == "place"
    finished = spans()
    (program,) = by_name(finished, "program ")
    preds = by_name(finished, "predict ")
    lms = by_name(finished, "lm ")
    assert program.name == "program TwoStep" and program.parent is None
    assert [p.name for p in preds] == ["predict topic", "predict kind"]
    assert all(p.parent.span_id == program.context.span_id for p in preds)
    assert [lm.parent.span_id for lm in lms] == [p.context.span_id for p in preds]
    assert len({s.context.trace_id for s in finished}) == 1
    assert program.attributes["lmdsl.lm_calls"] == 2
    assert preds[1].attributes["lmdsl.module"] == "ChainOfThought"
    lm = lms[0].attributes
    assert lm["gen_ai.request.model"] == "scripted/lm"
    assert lm["lmdsl.constraint"] == "none"  # ScriptedLM takes no grammar
    assert lm["gen_ai.usage.input_tokens"] > 0 and lm["gen_ai.usage.output_tokens"] > 0
    assert lm["lmdsl.cache_hit"] is False and lm["lmdsl.retries"] == 0 and lm["lmdsl.attempt"] == 1
    # content is opt-in
    assert not any(k in s.attributes for s in finished for k in ("gen_ai.prompt", "lmdsl.inputs"))


def test_cache_hit_and_content_opt_in(spans, scripted):
    scripted(_answers, cache=True)
    lmdsl.configure(trace_content=True)
    TwoStep()(question="Where is Paris?")
    TwoStep()(question="Where is Paris?")
    lms = by_name(spans(), "lm ")
    assert [s.attributes["lmdsl.cache_hit"] for s in lms] == [False, False, True, True]
    prompt = json.loads(lms[0].attributes["gen_ai.prompt"])
    assert any("Where is Paris?" in m["content"] for m in prompt)
    assert "geography" in lms[0].attributes["gen_ai.completion"]
    (first_program, _) = by_name(spans(), "program ")
    assert json.loads(first_program.attributes["lmdsl.inputs"]) == {"question": "Where is Paris?"}


def test_parse_reasks_are_counted_and_errors_recorded(spans, scripted):
    scripted(["Output: fine", "nonsense", "still nonsense", "no", "never"])
    lmdsl.configure(max_reasks=1)
    with pytest.raises(ParseError):
        TwoStep()(question="Q?")
    finished = spans()
    second = by_name(finished, "predict kind")[0]
    assert second.attributes["lmdsl.lm_calls"] == 2 and second.attributes["lmdsl.reasks"] == 1
    assert second.attributes["error.type"] == "ParseError"
    assert second.status.status_code.name == "ERROR"
    attempts = [s.attributes["lmdsl.attempt"] for s in by_name(finished, "lm ") if s.parent.span_id ==
                second.context.span_id]
    assert attempts == [1, 2]
    (program,) = by_name(finished, "program ")
    assert program.attributes["error.type"] == "ParseError"


def test_retries_counted_once_per_transient_error(spans, monkeypatch):
    import sys
    import types

    import tenacity

    from lmdsl.lm import lm as lm_module

    class Slow(Exception):
        pass

    class Flaky(ScriptedLM):
        failures = 2

        def _complete(self, messages, params):
            if self.failures:
                self.failures -= 1
                raise self._translate(Slow("try again"))  # what a provider error goes through
            return super()._complete(messages, params)

    monkeypatch.setitem(sys.modules, "litellm", sys.modules.get("litellm") or types.ModuleType("litellm"))
    monkeypatch.setattr(lm_module, "_transient_errors", lambda: (Slow,))
    monkeypatch.setattr(tenacity, "wait_exponential", lambda **kw: tenacity.wait_none())
    lm = Flaky(["Output: ok"])
    lm.num_retries = 3
    lmdsl.configure(lm=lm)
    assert lmdsl.Predict(topic)(question="q").output == "ok"
    (span,) = by_name(spans(), "lm ")
    assert span.attributes["lmdsl.retries"] == 2


def test_lm_error_is_recorded(spans):
    class Broken(ScriptedLM):
        def _complete(self, messages, params):
            raise lmdsl.LMError("scripted/lm: the server said no")

    lmdsl.configure(lm=Broken([]))
    with pytest.raises(lmdsl.LMError):
        lmdsl.Predict(topic)(question="q")
    (span,) = by_name(spans(), "lm ")
    assert span.attributes["error.type"] == "LMError"
    assert span.events[0].attributes["exception.message"] == "scripted/lm: the server said no"


def test_phases_parent_the_calls_inside(spans, scripted):
    scripted(_answers)
    with telemetry.phase("outer", size=1):
        TwoStep()(question="Where?")
    finished = spans()
    (outer,) = by_name(finished, "phase outer")
    (program,) = by_name(finished, "program ")
    assert program.parent.span_id == outer.context.span_id
    assert outer.attributes["lmdsl.size"] == 1 and outer.attributes["lmdsl.usage.calls"] == 2


def test_env_variable_turns_tracing_on(tmp_path, monkeypatch, scripted):
    path = tmp_path / "trace.jsonl"
    monkeypatch.setenv("LMDSL_TRACE", str(path))
    telemetry.reset()
    try:
        scripted(_answers)
        TwoStep()(question="Where?")
        telemetry.flush()
    finally:
        telemetry.reset()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert {r["name"] for r in rows} >= {"program TwoStep", "predict topic", "lm scripted/lm"}


def test_off_by_default_makes_no_spans(scripted, monkeypatch):
    monkeypatch.delenv("LMDSL_TRACE", raising=False)
    telemetry.reset()
    scripted(_answers)
    TwoStep()(question="Where?")
    assert telemetry.tracer() is None


def test_bad_target_is_a_clear_error(scripted):
    scripted(_answers)
    lmdsl.configure(tracing="not-a-target")
    try:
        with pytest.raises(lmdsl.ConfigError, match=r"expected a \.jsonl file path, 'console', 'otlp'"):
            TwoStep()(question="Where?")
    finally:
        telemetry.reset()


def test_constraint_mode_is_the_one_the_request_used(spans):
    lmdsl.configure(lm=ScriptedLM(lambda inputs: {"output": "x"}, constrain="json_schema"))
    lmdsl.Predict(topic)(question="q")
    lmdsl.configure(lm=ScriptedLM(lambda inputs: {"output": "x"}, model="local/fake"))  # auto: gbnf in process
    lmdsl.Predict(topic)(question="q")
    assert [s.attributes["lmdsl.constraint"] for s in by_name(spans(), "lm ")] == ["json_schema", "gbnf"]
