"""What each constraint mode puts in the request body, checked against a loopback recorder.

These check the request lmdsl sends through litellm, not the providers themselves (vLLM, Ollama and
OpenAI cannot run here); the gbnf and json_schema modes are checked against a real llama.cpp server
in tests/served/.
"""

from __future__ import annotations

import logging
from typing import Literal

import pytest
from recorder import Recorder

import lmdsl
from lmdsl import Predict, signature
from lmdsl.errors import ConfigError
from lmdsl.lm import probe


@signature
def classify(text: str) -> Literal["negative", "positive"]:
    """Classify the sentiment.

    Returns:
        label: the sentiment.
    """


@signature
def count(text: str) -> int:
    """Count the words.

    Returns:
        count: how many.
    """


@pytest.fixture(autouse=True)
def _fresh_probe(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    probe.forget()
    yield
    probe.forget()


def served(rec: Recorder, **kwargs):
    return lmdsl.LM("openai/m", api_base=rec.url + "/v1", cache=False, num_retries=0, **kwargs)


def test_unknown_constrain_value_is_a_clear_error():
    with pytest.raises(ConfigError, match="constrain must be one of auto, gbnf, json_schema, vllm, ollama, none"):
        lmdsl.LM("openai/m", constrain="grammar")


def test_request_for_gbnf_puts_the_grammar_in_the_body():
    with Recorder(reply="Label: positive") as rec:
        out = Predict(classify, lm=served(rec, constrain="gbnf"))(text="fine")
    assert out.label == "positive"
    (body,) = rec.bodies
    assert body["grammar"].startswith('root ::= "Label: " v0')
    assert '"negative" | "positive"' in body["grammar"]
    assert "stop" not in body and "response_format" not in body


def test_request_for_json_schema_sends_a_strict_schema_and_a_json_prompt():
    with Recorder(reply='{"label": "negative"}') as rec:
        out = Predict(classify, lm=served(rec, constrain="json_schema"))(text="dull")
    assert out.label == "negative"
    (body,) = rec.bodies
    spec = body["response_format"]
    assert spec["type"] == "json_schema" and spec["json_schema"]["strict"] is True
    schema = spec["json_schema"]["schema"]
    assert schema["properties"]["label"]["enum"] == ["negative", "positive"]
    assert schema["required"] == ["label"] and schema["additionalProperties"] is False
    assert "JSON" in body["messages"][0]["content"]  # the prompt asks for the JSON the schema enforces


def test_request_for_vllm_sends_structured_outputs_choice_for_a_label():
    with Recorder(reply="Label: positive") as rec:
        Predict(classify, lm=served(rec, constrain="vllm"))(text="fine")
    (body,) = rec.bodies
    assert body["structured_outputs"] == {"choice": ["Label: negative", "Label: positive"]}


def test_request_for_vllm_sends_a_grammar_for_other_outputs():
    with Recorder(reply="Count: 3") as rec:
        assert Predict(count, lm=served(rec, constrain="vllm"))(text="a b c").count == 3
    assert "grammar" in rec.bodies[0]["structured_outputs"]


def test_request_for_ollama_sends_format_with_the_schema():
    with Recorder(reply='{"label": "positive"}') as rec:
        lm = lmdsl.LM("ollama_chat/m", api_base=rec.url, cache=False, num_retries=0)
        assert lm.constraint_mode() == "ollama"
        assert Predict(classify, lm=lm)(text="fine").label == "positive"
    (body,) = rec.bodies
    assert rec.paths[-1] == "/api/chat"
    assert body["format"]["properties"]["label"]["enum"] == ["negative", "positive"]


def test_request_for_none_sends_no_constraint_but_stop_sequences():
    with Recorder(reply="I think it is positive.") as rec:
        assert Predict(classify, lm=served(rec, constrain="none"))(text="fine").label == "positive"
    (body,) = rec.bodies
    assert not {"grammar", "response_format", "structured_outputs", "format"} & set(body)
    assert body["stop"] == ["\n\nText:"]


# "The film is ..." where the model weighed beginning with "positive" over "negative" at the first token.
SENTENCE_LOGPROBS = [[("The", -0.2), ("Positive", -2.0), ("Negative", -2.5), ("A", -1.0)],
                     [(" film", -0.1), (" movie", -1.0)], [(" is", -0.1)]]


def test_request_for_none_with_a_label_asks_for_top_logprobs_and_reads_the_label_from_them():
    with Recorder(reply="The film is a delight.", logprobs=SENTENCE_LOGPROBS) as rec:
        lm = served(rec, constrain="none")
        assert Predict(classify, lm=lm)(text="fine").label == "positive"
    (body,) = rec.bodies  # one call: no re-ask although the text names no label
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert "Answer with one word" not in body["messages"][-1]["content"]  # no label list to echo


def test_request_for_none_reads_the_text_first_when_it_names_a_label():
    with Recorder(reply="negative", logprobs=SENTENCE_LOGPROBS) as rec:
        assert Predict(classify, lm=served(rec, constrain="none"))(text="fine").label == "negative"


def test_a_server_that_returns_no_logprobs_gets_the_label_reminder_from_then_on():
    with Recorder(reply="positive") as rec:
        lm = served(rec, constrain="none")
        Predict(classify, lm=lm)(text="a")
        Predict(classify, lm=lm)(text="b")
    first, second = rec.bodies
    assert first.get("logprobs") and "logprobs" not in second
    assert second["messages"][-1]["content"].endswith("Answer with one word: negative or positive.")


def test_a_server_that_rejects_logprobs_is_asked_again_without_them_and_remembers(caplog):
    with Recorder(reply="positive", reject=("logprobs",)) as rec, caplog.at_level(logging.WARNING):
        lm = served(rec, constrain="none")
        assert Predict(classify, lm=lm)(text="a").label == "positive"
        Predict(classify, lm=lm)(text="b")
    assert [("logprobs" in b) for b in rec.bodies] == [True, False, False]
    assert "rejected logprobs" in caplog.text and lm.constraint_mode() == "none"


@pytest.mark.parametrize(("owned_by", "mode"), [("vllm", "vllm"), ("llamacpp", "gbnf"), ("library", "json_schema"),
                                                 ("organization_owner", "json_schema")])
def test_auto_asks_the_server_once_what_it_is(owned_by, mode):
    with Recorder(reply="Label: positive", owned_by=owned_by) as rec:
        lm = served(rec)
        assert lm.constraint_mode() == mode
        assert served(rec).constraint_mode() == mode
    assert rec.paths.count("/v1/models") == 1  # one probe per endpoint per process


def test_auto_on_an_unknown_server_sends_nothing_and_says_how_to_choose(caplog):
    with Recorder(reply="Label: positive", owned_by="someone") as rec, caplog.at_level(logging.WARNING):
        lm = served(rec)
        assert lm.constraint_mode() == "none"
        Predict(classify, lm=lm)(text="fine")
    assert "constrain=" in caplog.text
    assert not {"grammar", "response_format", "structured_outputs"} & set(rec.bodies[0])


def test_a_server_that_rejects_the_field_falls_back_once_and_remembers(caplog):
    with Recorder(reply="Label: positive", reject=("grammar",)) as rec, caplog.at_level(logging.WARNING):
        lm = served(rec, constrain="gbnf")
        assert Predict(classify, lm=lm)(text="fine").label == "positive"
        assert lm.constraint_mode() == "json_schema"
    assert [("grammar" in b) for b in rec.bodies] == [True, False]
    assert "rejected constrain='gbnf'" in caplog.text


def test_async_calls_fall_back_from_a_rejected_field_as_sync_calls_do(caplog):
    import asyncio

    with Recorder(reply="Label: positive", reject=("grammar",)) as rec, caplog.at_level(logging.WARNING):
        lm = served(rec, constrain="gbnf")
        assert asyncio.run(Predict(classify, lm=lm).acall(text="fine")).label == "positive"
        assert lm.constraint_mode() == "json_schema"
    assert [("grammar" in b) for b in rec.bodies] == [True, False]
    assert "rejected constrain='gbnf'" in caplog.text


def test_a_server_that_is_down_is_one_clear_error():
    lm = lmdsl.LM("openai/m", api_base="http://127.0.0.1:9/v1", cache=False, num_retries=0)
    with pytest.raises(Exception) as info:
        Predict(classify, lm=lm)(text="fine")
    assert "127.0.0.1:9" in str(info.value) or "Connection" in str(info.value)
    assert "\n" not in str(info.value).strip()


def test_invalid_json_under_json_schema_is_reasked_then_a_parse_error():
    from lmdsl.errors import ParseError

    with Recorder(reply="not json at all") as rec, pytest.raises(ParseError, match="not a JSON object"):
        Predict(classify, lm=served(rec, constrain="json_schema"))(text="x")
    assert len(rec.bodies) == 3  # the reply and two re-asks (max_reasks)


def test_cache_keeps_modes_and_endpoints_apart(tmp_path, monkeypatch):
    with Recorder(reply="Label: positive") as a, Recorder(reply="Label: negative") as b:
        lm_a = lmdsl.LM("openai/m", api_base=a.url + "/v1", constrain="gbnf")
        lm_b = lmdsl.LM("openai/m", api_base=b.url + "/v1", constrain="gbnf")
        lm_none = lmdsl.LM("openai/m", api_base=a.url + "/v1", constrain="none")
        assert Predict(classify, lm=lm_a)(text="t").label == "positive"
        assert Predict(classify, lm=lm_b)(text="t").label == "negative"  # same model name, other server
        Predict(classify, lm=lm_none)(text="t")
        assert Predict(classify, lm=lm_a)(text="t").label == "positive"
    assert (len(a.bodies), len(b.bodies)) == (2, 1)  # the unconstrained call did not reuse the gbnf reply
