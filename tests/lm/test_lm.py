"""The LM layer: retries on transient errors only, history, usage, async, the real litellm path (mocked
responses, no network), and the import-time promise (``import lmdsl`` never imports litellm)."""

from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lmdsl
from lmdsl import LMError
from lmdsl.lm import LM, Completion, inspect_history, track_usage
from lmdsl.lm import history as global_history

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")  # litellm's own pydantic models
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm


class FlakyLM(LM):
    """Raises the given errors in order, then answers."""

    def __init__(self, errors=(), reply="Paris", **kwargs):
        kwargs.setdefault("cache", False)
        super().__init__("test/flaky", **kwargs)
        self.errors = list(errors)
        self.calls = 0
        self.reply = reply

    def _complete(self, messages, params):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        words = sum(len(m["content"].split()) for m in messages)
        return Completion([self.reply], {"prompt_tokens": words, "completion_tokens": 1}, False, self.model,
                          ["stop"], cost=0.25)

    async def _acomplete(self, messages, params):
        return self._complete(messages, params)


@pytest.fixture
def sleeps(monkeypatch):
    """Record backoff waits instead of sleeping."""
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)

    async def fake_asleep(seconds, *args):
        waits.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_asleep)
    return waits


def rate_limit():
    return litellm().RateLimitError("slow down", llm_provider="openai", model="gpt")


# ---- construction ---------------------------------------------------------------------
def test_model_name_must_name_a_provider():
    with pytest.raises(ValueError, match=r"LM model must look like 'provider/model', got 'gpt-4o'"):
        LM("gpt-4o")


def test_defaults_and_describe_without_secrets():
    lm = LM("openai/gpt-4o-mini", api_key="sk-secret", api_base="http://x", top_p=0.5)
    assert lm.kwargs["temperature"] == 0.0 and lm.cache is True and lm.num_retries == 3
    assert lm.describe() == {"model": "openai/gpt-4o-mini", "temperature": 0.0, "max_tokens": None, "top_p": 0.5}


def test_deepcopy_shares_the_lm_and_copy_makes_a_fresh_one():
    lm = FlakyLM()
    assert copy.deepcopy(lm) is lm
    lm(MESSAGES)
    other = lm.copy(temperature=0.7)
    assert other is not lm and other.kwargs["temperature"] == 0.7 and lm.kwargs["temperature"] == 0.0
    assert len(other.history) == 0 and other.usage.calls == 0


def test_grammar_only_for_grammar_capable_models():
    assert LM("local/smollm2").supports_grammar
    assert not LM("openai/gpt-4o").supports_grammar
    assert "grammar" not in LM("openai/gpt-4o")._params({"grammar": "root ::= x"})


# ---- retries --------------------------------------------------------------------------
def test_transient_errors_are_retried_with_backoff(sleeps):
    lm = FlakyLM([rate_limit(), rate_limit()])
    assert lm(MESSAGES).texts == ["Paris"]
    assert lm.calls == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] > 0  # exponential backoff


@pytest.mark.parametrize("name", ["Timeout", "APIConnectionError", "InternalServerError", "ServiceUnavailableError"])
def test_other_transient_kinds(sleeps, name):
    cls = getattr(litellm(), name)
    exc = cls("boom", llm_provider="openai", model="gpt") if name != "Timeout" else cls("t", "gpt", "openai")
    lm = FlakyLM([exc])
    lm(MESSAGES)
    assert lm.calls == 2


def test_retries_are_bounded(sleeps):
    lm = FlakyLM([rate_limit() for _ in range(10)], num_retries=2)
    with pytest.raises(litellm().RateLimitError):
        lm(MESSAGES)
    assert lm.calls == 3


@pytest.mark.parametrize(
    "make_error",
    [
        lambda: ValueError("a bug"),
        lambda: litellm().BadRequestError("bad request", model="gpt", llm_provider="openai"),
        lambda: litellm().AuthenticationError("bad key", llm_provider="openai", model="gpt"),
        lambda: LMError("already translated"),
    ],
    ids=["ValueError", "BadRequestError", "AuthenticationError", "LMError"],
)
def test_non_transient_errors_are_not_retried(sleeps, make_error):
    error = make_error()
    lm = FlakyLM([error])
    with pytest.raises(type(error)):
        lm(MESSAGES)
    assert lm.calls == 1 and sleeps == []


def test_num_retries_zero(sleeps):
    lm = FlakyLM([rate_limit()], num_retries=0)
    with pytest.raises(litellm().RateLimitError):
        lm(MESSAGES)
    assert lm.calls == 1


def test_a_non_litellm_error_does_not_import_litellm():
    code = (
        "import sys, lmdsl\n"
        "from lmdsl.lm import LM\n"
        "class Bad(LM):\n"
        "    def _complete(self, m, p): raise ValueError('x')\n"
        "try: Bad('t/x', cache=False)([{'role': 'user', 'content': 'hi'}])\n"
        "except ValueError: pass\n"
        "print('litellm' in sys.modules)\n"
    )
    assert run_python(code) == "False"


# ---- history and usage ----------------------------------------------------------------
def test_history_records_prompts_and_replies_and_is_bounded():
    lm = FlakyLM(history_size=3, api_key="sk-secret-in-history")
    for i in range(5):
        lm([{"role": "user", "content": f"question {i}"}], temperature=0.1)
    assert len(lm.history) == 3
    entry = lm.history[-1]
    assert entry["messages"] == [{"role": "user", "content": "question 4"}]
    assert entry["outputs"] == ["Paris"] and entry["model"] == "test/flaky"
    assert entry["params"]["temperature"] == 0.1
    assert "api_key" not in entry["params"]  # secrets stay out of history
    assert global_history.last(2)[-1] is entry


def test_history_size_follows_the_setting_unless_given():
    def ask(lm, n):
        for i in range(n):
            lm([{"role": "user", "content": f"q{i}"}])

    lmdsl.configure(history_size=2)
    lm = FlakyLM()  # the setting, not LM's own default
    ask(lm, 5)
    assert [e["messages"][0]["content"] for e in lm.history] == ["q3", "q4"]
    explicit = FlakyLM(history_size=4)  # an explicit argument wins over the setting
    ask(explicit, 5)
    assert len(explicit.history) == 4

    lm_built_first = FlakyLM()
    lmdsl.configure(history_size=3)  # configure(lm=LM(...), history_size=...) builds the LM first
    ask(lm_built_first, 5)
    assert len(lm_built_first.history) == 3
    with lmdsl.context(history_size=1):
        ask(lm_built_first, 2)
    assert len(lm_built_first.history) == 1
    assert len(explicit.history) == 4


def test_global_history_is_bounded():
    lm = FlakyLM(history_size=1000)
    for i in range(250):
        lm([{"role": "user", "content": str(i)}])
    assert len(global_history.last(1000)) == 200


def test_inspect_history_prints_prompts_and_replies(capsys):
    lm = FlakyLM()
    lm([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}])
    lm([{"role": "user", "content": "Capital of Italy?"}])
    text = inspect_history(2)
    out = capsys.readouterr().out
    assert out == text + "\n"
    assert text == (
        "── test/flaky ──\n[system]\nBe brief.\n[user]\nCapital of France?\n[reply]\nParis\n\n"
        "── test/flaky ──\n[user]\nCapital of Italy?\n[reply]\nParis"
    )
    assert lmdsl.inspect_history(1) == text.split("\n\n")[-1]


def test_inspect_history_marks_cached_calls(capsys):
    lm = FlakyLM(cache=True)
    lm(MESSAGES)
    lm(MESSAGES)
    assert inspect_history(1).startswith("── test/flaky  (cached) ──")


def test_usage_per_lm_and_per_run():
    a, b = FlakyLM(cache=True), FlakyLM()
    a(MESSAGES)
    with track_usage() as run:
        a(MESSAGES)  # cached: counted as a call, no tokens
        b(MESSAGES)
        with track_usage() as inner:
            b([{"role": "user", "content": "one two"}])
    assert a.usage.to_dict() == {"calls": 2, "lm_calls": 1, "cached_calls": 1, "prompt_tokens": 6,
                                 "completion_tokens": 1, "total_tokens": 7, "cost": 0.25}
    assert (b.usage.calls, b.usage.prompt_tokens) == (2, 8)
    assert (run.calls, run.cached_calls, run.prompt_tokens, run.completion_tokens) == (3, 1, 8, 2)
    assert (inner.calls, inner.prompt_tokens) == (1, 2)
    assert run.cost == 0.5


def test_usage_of_a_predict_program(scripted):
    scripted([{"answer": "Paris"}, {"answer": "Rome"}])
    p = lmdsl.Predict("question -> answer")
    with lmdsl.track_usage() as usage:
        p(question="France?")
        p(question="Italy?")
    assert usage.calls == 2 and usage.completion_tokens == 4 and usage.prompt_tokens > 0  # "Answer: Paris"


# ---- async ----------------------------------------------------------------------------
def test_acall():
    lm = FlakyLM(cache=True)
    result = asyncio.run(lm.acall(MESSAGES))
    assert result.texts == ["Paris"] and not result.cached
    assert asyncio.run(lm.acall(MESSAGES)).cached  # shares the cache with the sync path
    assert lm(MESSAGES).cached
    assert len(lm.history) == 3 and lm.calls == 1


def test_acall_retries_transient_errors_only(sleeps):
    lm = FlakyLM([rate_limit()])
    assert asyncio.run(lm.acall(MESSAGES)).texts == ["Paris"]
    assert lm.calls == 2 and len(sleeps) == 1
    bad = FlakyLM([ValueError("bug")])
    with pytest.raises(ValueError):
        asyncio.run(bad.acall(MESSAGES))
    assert bad.calls == 1


def test_concurrent_tasks_with_their_own_context(scripted):
    first = lmdsl.testing.ScriptedLM(lambda inputs: {"answer": "from first"})
    second = lmdsl.testing.ScriptedLM(lambda inputs: {"answer": "from second"})
    p = lmdsl.Predict("question -> answer")

    async def run(lm):
        with lmdsl.context(lm=lm):
            await asyncio.sleep(0)
            return (await p.acall(question="q")).answer

    async def main():
        return await asyncio.gather(run(first), run(second), run(first))

    assert asyncio.run(main()) == ["from first", "from second", "from first"]


# ---- the real litellm path, with litellm's mock responses (no network) ----------------
def test_litellm_completion_with_mock_response():
    lm = LM("openai/gpt-4o-mini", api_key="sk-fake", mock_response="Paris", cache=False)
    result = lm(MESSAGES)
    assert result.texts == ["Paris"] and result.finish_reasons == ["stop"]
    assert result.usage["prompt_tokens"] > 0 and result.usage["completion_tokens"] > 0
    assert result.cost and lm.usage.cost == result.cost  # litellm's cost map knows this model
    assert lm.usage.calls == 1
    # imported with the local cost map (no network at import) and without debug banners
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert litellm().suppress_debug_info is True


def test_litellm_acompletion_with_mock_response():
    lm = LM("openai/gpt-4o-mini", api_key="sk-fake", mock_response="Rome", cache=False)
    assert asyncio.run(lm.acall(MESSAGES)).texts == ["Rome"]


def test_provider_params(monkeypatch):
    sent = {}
    real = litellm().completion

    def fake_completion(**kwargs):
        sent.update(kwargs)
        return real(**{**kwargs, "mock_response": "ok"})

    monkeypatch.setattr(litellm(), "completion", fake_completion)
    LM("openai/gpt-4o-mini", api_key="sk-fake", cache=False, top_p=0.5)(MESSAGES, rollout_id=3, max_tokens=9)
    assert sent["num_retries"] == 0  # lmdsl retries itself
    assert "rollout_id" not in sent  # local-only params never reach the provider
    assert (sent["top_p"], sent["max_tokens"], sent["api_key"]) == (0.5, 9, "sk-fake")
    assert "temperature" in sent and sent["model"] == "openai/gpt-4o-mini"


def test_provider_errors_become_one_line_lm_errors(monkeypatch):
    def fake_completion(**kwargs):
        raise litellm().AuthenticationError("Incorrect API key provided\nmore detail", llm_provider="openai",
                                            model="gpt-4o-mini")

    monkeypatch.setattr(litellm(), "completion", fake_completion)
    with pytest.raises(LMError) as info:
        LM("openai/gpt-4o-mini", cache=False)(MESSAGES)
    message = str(info.value)
    assert message.startswith("openai/gpt-4o-mini: AuthenticationError: ")
    assert "Incorrect API key provided" in message and "\n" not in message


def test_transient_provider_errors_keep_their_type_for_retries(monkeypatch, sleeps):
    calls = []
    real = litellm().completion

    def fake_completion(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise rate_limit()
        return real(**{**kwargs, "mock_response": "ok"})

    monkeypatch.setattr(litellm(), "completion", fake_completion)
    assert LM("openai/gpt-4o-mini", api_key="sk-fake", cache=False)(MESSAGES).texts == ["ok"]
    assert len(calls) == 2


# ---- import time ----------------------------------------------------------------------
def run_python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                          env=env).stdout.strip()


def test_import_lmdsl_does_not_import_litellm_and_is_fast():
    # CPU time rather than wall time: the test machine may be busy with other work.
    code = (
        "import sys, time\n"
        "t = time.process_time()\n"
        "import lmdsl\n"
        "dt = time.process_time() - t\n"
        "lmdsl.LM('openai/gpt-4o-mini')\n"
        "lmdsl.Predict('question -> answer').render(question='q')\n"
        "print('litellm' in sys.modules, 'tenacity' in sys.modules, dt)\n"
    )
    times = []
    for _ in range(3):
        litellm_loaded, tenacity_loaded, dt = run_python(code).split()
        assert litellm_loaded == "False" and tenacity_loaded == "False"
        times.append(float(dt))
    assert min(times) < 0.2, times
