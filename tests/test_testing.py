"""ScriptedLM: answers by output field, rendered through the real adapter, recorded like a real LM."""

from __future__ import annotations

import io

import pytest

import lmdsl
from lmdsl import ChainOfThought, JSONAdapter, Predict
from lmdsl.lm import Completion
from lmdsl.testing import ScriptedLM

QA = lmdsl.signature("question -> answer")


def test_list_mode_consumes_in_order(scripted):
    lm = scripted([{"answer": "Paris"}, {"answer": "Rome"}])
    p = Predict(QA)
    assert [p(question=q).answer for q in ("France?", "Italy?")] == ["Paris", "Rome"]
    assert lm.remaining == 0
    with pytest.raises(LookupError, match=r"^ScriptedLM: ran out of scripted answers after 2 call\(s\)$"):
        p(question="Spain?")


def test_dict_mode_keyed_by_an_input_value(scripted):
    lm = scripted({"France?": {"answer": "Paris"}, "Italy?": {"answer": "Rome"}})
    p = Predict(QA)
    assert [p(question=q).answer for q in ("Italy?", "France?", "Italy?")] == ["Rome", "Paris", "Rome"]
    assert lm.remaining is None
    with pytest.raises(LookupError, match=r"^ScriptedLM: no scripted answer for inputs \{'question': 'Spain\?'\}$"):
        p(question="Spain?")


def test_dict_mode_with_non_string_inputs(scripted):
    scripted({"3": {"answer": "three"}})
    assert Predict("count: int -> answer")(count=3).answer == "three"


def test_function_mode(scripted):
    scripted(lambda inputs: {"answer": inputs["question"].upper()})
    assert Predict(QA)(question="shout").answer == "SHOUT"


def test_answers_are_rendered_by_the_real_adapter(scripted):
    lm = scripted([{"reasoning": "two and two", "answer": "4"}, {"reasoning": "r", "answer": "5"}])
    cot = ChainOfThought(QA)
    cot(question="2+2?")
    assert lm.history[-1]["outputs"] == ["Reasoning: two and two\nAnswer: 4"]
    Predict(cot.signature, adapter=JSONAdapter())(question="2+3?")
    assert lm.history[-1]["outputs"] == ['{"reasoning": "r", "answer": "5"}']


def test_raw_string_answers_test_the_parser(scripted):
    lm = scripted(["**Answer:** Paris"])
    assert Predict(QA)(question="?").answer == "Paris"
    assert lm.history[-1]["outputs"] == ["**Answer:** Paris"]


def test_history_requests_and_usage_like_a_real_lm(scripted):
    lm = scripted([{"answer": "Paris"}])
    messages = Predict(QA).render(question="France?")
    Predict(QA)(question="France?")
    assert lm.history[-1]["messages"] == messages
    assert lm.requests == [messages]
    assert lm.history[-1]["model"] == "scripted/lm"
    assert lm.usage.calls == 1 and lm.usage.completion_tokens == 2
    assert lmdsl.inspect_history(1, file=io.StringIO()).endswith("[reply]\nAnswer: Paris")


def test_several_samples(scripted):
    lm = scripted([{"answer": "a"}, {"answer": "b"}, {"answer": "c"}])
    pred = Predict(QA, n=3)(question="?")
    assert [c["answer"] for c in pred.completions] == ["a", "b", "c"]
    assert len(lm.history) == 1 and lm.remaining == 0


def test_outside_a_predictor_only_raw_strings_work():
    lm = ScriptedLM(["plain reply", {"answer": "x"}])
    assert lm([{"role": "user", "content": "hi"}]).texts == ["plain reply"]
    with pytest.raises(LookupError, match="a dict answer needs a predictor call to render it"):
        lm([{"role": "user", "content": "hi"}])


def test_async_path(scripted):
    import asyncio

    lm = ScriptedLM(["Answer: async"])
    result = asyncio.run(lm.acall([{"role": "user", "content": "hi"}]))
    assert isinstance(result, Completion) and result.texts == ["Answer: async"]


def test_never_retries_and_defaults_to_no_cache():
    lm = ScriptedLM([])
    assert lm.num_retries == 0 and lm.cache is False
    assert ScriptedLM([], model="local/fake").supports_grammar


def test_isolated_gives_its_own_cache_settings_and_plugins_then_puts_them_back(tmp_path, monkeypatch):
    import os

    from lmdsl.lm.cache import cache_dir
    from lmdsl.plugins import plugin_manager
    from lmdsl.testing import isolated

    monkeypatch.setenv("LMDSL_CACHE_DIR", str(tmp_path / "outer"))
    lmdsl.configure(lm=ScriptedLM([]))
    outer_manager = plugin_manager()
    with isolated(tmp_path / "inner"):
        assert cache_dir() == tmp_path / "inner"
        assert lmdsl.settings.get("lm") is None
        assert plugin_manager() is not outer_manager and plugin_manager().load_entrypoints is False
    assert os.environ["LMDSL_CACHE_DIR"] == str(tmp_path / "outer") and plugin_manager() is outer_manager
    monkeypatch.delenv("LMDSL_CACHE_DIR")
    with isolated(tmp_path / "inner"):
        pass
    assert "LMDSL_CACHE_DIR" not in os.environ
