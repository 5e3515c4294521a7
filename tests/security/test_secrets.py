"""Item 4 and the retry half of item 3: what an LM saves, what its errors and history say, and
that a missing or wrong key is reported at once instead of retried as if transient."""

from __future__ import annotations

import os
import time

import pytest

from lmdsl import LMError
from lmdsl.lm import LM
from lmdsl.utils.secrets import GENERATION_PARAMS, REDACTED, check_param_value, is_auth_failure, scrub

pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")  # litellm's own pydantic models
KEY = "sk-test-4f8a1c9b2d7e6f5a"
MESSAGES = [{"role": "user", "content": "hello"}]


def litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm


@pytest.fixture
def no_sleep(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    return waits


def test_describe_saves_only_allow_listed_generation_settings():
    credentials = {"client_secret": "cs-123456789", "azure_password": "pw-123456789",
                   "aws_web_identity_token": "tok-123456789", "api_key": KEY, "api_base": "http://h",
                   "headers": {"X-Key": KEY}, "vertex_credentials": "{}", "custom_llm_provider": "openai"}
    lm = LM("openai/gpt-4o-mini", top_p=0.5, stop=["\n"], **credentials)
    saved = lm.describe()
    assert set(saved) - {"model"} <= GENERATION_PARAMS
    assert saved["top_p"] == 0.5 and saved["stop"] == ["\n"]
    assert not set(credentials) & set(saved)


def test_scrub_removes_param_env_and_key_shaped_values(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "anthropic-secret-value-1")
    text = (f"401 for key {KEY}: Authorization: Bearer abcdefgh12345678 "
            "anthropic-secret-value-1 my-own-secret-9 https://user:hunter22@example.com/v1")
    clean = scrub(text, {"client_secret": "my-own-secret-9", "temperature": 0.0})
    for leaked in (KEY, "abcdefgh12345678", "anthropic-secret-value-1", "my-own-secret-9", "hunter22"):
        assert leaked not in clean
    assert clean.count(REDACTED) >= 5 and clean.startswith("401 for key ")


def test_short_values_are_not_treated_as_keys():
    # api_key="x" is the usual placeholder for a local server: redacting every "x" would wreck messages
    assert scrub("x marks the spot", {"api_key": "x"}) == "x marks the spot"


@pytest.mark.parametrize(("name", "value", "ok"), [
    ("temperature", 0.7, True), ("temperature", float("nan"), False), ("temperature", "hot", False),
    ("max_tokens", 16, True), ("max_tokens", -5, False), ("max_tokens", True, False),
    ("stop", ["\n"], True), ("stop", [1], False), ("logit_bias", {"1": 2.0}, True),
    ("logit_bias", {"1": float("inf")}, False), ("seed", 0, True), ("seed", -1, False),
])
def test_saved_setting_values_are_checked(name, value, ok):
    assert (check_param_value(name, value) is None) is ok


def test_a_missing_key_is_not_retried_and_names_the_cause(monkeypatch, no_sleep):
    calls = []

    def missing_key(**kwargs):
        calls.append(1)
        # what litellm 1.8x raises for openai/ without OPENAI_API_KEY: an InternalServerError (transient kind)
        raise litellm().InternalServerError("OpenAIException - Missing credentials. Please pass an `api_key`",
                                            llm_provider="openai", model="gpt-4o-mini")

    monkeypatch.setattr(litellm(), "completion", missing_key)
    with pytest.raises(LMError, match="authentication failed: not retried"):
        LM("openai/gpt-4o-mini", cache=False)(MESSAGES)
    assert len(calls) == 1 and no_sleep == []


def test_a_401_echoing_the_key_is_not_retried_and_the_key_is_scrubbed(monkeypatch, no_sleep):
    calls = []

    def echo_key(**kwargs):
        calls.append(kwargs["api_key"])
        raise litellm().AuthenticationError(f"Incorrect API key provided: {kwargs['api_key']} (Bearer {KEY})",
                                            llm_provider="openai", model="gpt-4o-mini")

    monkeypatch.setattr(litellm(), "completion", echo_key)
    with pytest.raises(LMError) as info:
        LM("openai/gpt-4o-mini", api_key=KEY, cache=False)(MESSAGES)
    assert calls == [KEY] and no_sleep == []
    assert KEY not in str(info.value) and "Incorrect API key provided" in str(info.value)


def test_transient_errors_keep_their_type_but_lose_the_key(monkeypatch, no_sleep):
    def busy(**kwargs):
        raise litellm().RateLimitError(f"slow down, {KEY}", llm_provider="openai", model="gpt-4o-mini")

    monkeypatch.setattr(litellm(), "completion", busy)
    with pytest.raises(litellm().RateLimitError) as info:
        LM("openai/gpt-4o-mini", api_key=KEY, cache=False, num_retries=1)(MESSAGES)
    assert len(no_sleep) == 1  # still retried: a rate limit is transient
    assert KEY not in str(info.value) and KEY not in repr(info.value.args)


def test_history_entries_hold_no_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    from lmdsl.lm import Completion

    class Echo(LM):
        def _complete(self, messages, params):
            return Completion([f"your key is {KEY}"], {}, False, self.model)

    lm = Echo("test/echo", cache=False, client_secret="cs-0123456789", api_key=KEY)
    lm([{"role": "user", "content": f"remember {KEY} and cs-0123456789"}])
    entry = lm.history[-1]
    assert KEY not in repr(entry) and "cs-0123456789" not in repr(entry)
    assert "client_secret" not in entry["params"] and entry["params"]["temperature"] == 0.0


def test_auth_failures_are_recognised_by_status_and_kind():
    class Forbidden(Exception):
        status_code = 403

    assert is_auth_failure(Forbidden("nope")) and not is_auth_failure(TimeoutError("slow"))


def test_evaluate_error_rows_hold_no_key(monkeypatch, no_sleep):
    import lmdsl
    from lmdsl import Example, Predict
    from lmdsl.evaluate import Evaluate, exact_match

    def echo_key(**kwargs):
        raise litellm().AuthenticationError(f"bad key {kwargs['api_key']}", llm_provider="openai", model="m")

    monkeypatch.setattr(litellm(), "completion", echo_key)
    lmdsl.configure(lm=LM("openai/gpt-4o-mini", api_key=KEY, cache=False))
    rows = [Example(question="q", answer="a").with_inputs("question")]
    result = Evaluate(rows, exact_match, display_progress=False)(Predict("question -> answer"))
    assert result.errors == 1 and "authentication failed" in result.results[0].error
    assert KEY not in result.results[0].error


def test_scrub_value_redacts_nested_texts_and_leaves_clean_values_uncopied(monkeypatch):
    from lmdsl.utils.secrets import scrub_value, secret_values

    clean = {"messages": [{"role": "user", "content": "hello"}], "usage": {"prompt_tokens": 3}, "cached": False,
             "params": {"stop": ("a", "b"), "temperature": 0.0, "seed": None}}
    assert scrub_value(clean, secret_values()) is clean
    monkeypatch.setenv("LMDSL_TEST_SECRET_TOKEN", "tok-1234567890")  # a change of the environment is seen
    dirty = {"messages": [{"role": "user", "content": "use tok-1234567890 or sk-abcdefghijkl"}],
             "outputs": ["fine", "Bearer abcdefghijk"], "usage": {"prompt_tokens": 3}}
    out = scrub_value(dirty, secret_values())
    assert out["messages"][0]["content"] == f"use {REDACTED} or {REDACTED}"
    assert out["outputs"] == ["fine", REDACTED] and out["usage"] is dirty["usage"]  # unchanged parts shared
    assert dirty["messages"][0]["content"].startswith("use tok-")  # the input is not modified
