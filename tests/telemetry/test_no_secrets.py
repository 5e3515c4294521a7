"""No API key ever appears in a span: not in attributes, prompts, replies, errors or events,
even with content recording on and the key echoed back by the model or an error."""

from __future__ import annotations

import json

import pytest

import lmdsl
from lmdsl import telemetry
from lmdsl.testing import ScriptedLM

pytest.importorskip("opentelemetry.sdk")

KEY = "live-4f9a8b7c6d5e4f3a2b1c"  # no known key shape: redacted because it is the LM's api_key
ENV_KEY = "tok_9e8d7c6b5a4f3e2d1c0b"
BEARER = "Bearer abcdef0123456789ghijkl"


@lmdsl.signature
def answer(question: str) -> str:
    """Answer the question."""


def _dump(spans) -> str:
    return "\n".join(s.to_json(indent=None) for s in spans)


@pytest.mark.parametrize("content", [True, False])
def test_keys_never_reach_spans(tmp_path, monkeypatch, content):
    monkeypatch.setenv("MYPROVIDER_API_KEY", ENV_KEY)
    path = tmp_path / "trace.jsonl"
    lm = ScriptedLM(lambda inputs: {"output": f"my key is {KEY}, env {ENV_KEY}, header {BEARER}"},
                    api_key=KEY, extra_headers={"Authorization": BEARER}, api_base="https://proxy.example/v1")
    lmdsl.configure(lm=lm, tracing=str(path), trace_content=content)
    try:
        prediction = lmdsl.Predict(answer)(question=f"what is {KEY}?")
        assert KEY in prediction.output  # the program itself still sees what it was given

        class Leaky(ScriptedLM):
            def _complete(self, messages, params):
                raise lmdsl.LMError(f"AuthenticationError: Incorrect API key provided: {KEY} ({ENV_KEY})")

        with lmdsl.context(lm=Leaky([], api_key=KEY)), pytest.raises(lmdsl.LMError):
            lmdsl.Predict(answer)(question="q")
        telemetry.flush()
    finally:
        telemetry.reset()
    text = path.read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    assert any(r["name"].startswith("lm ") for r in rows) and any("exception" in json.dumps(r) for r in rows)
    assert "[redacted]" in text  # the error (and with content, the prompt) kept, the secrets replaced
    assert ("what is [redacted]?" in text) is content
    for secret in (KEY, ENV_KEY, "abcdef0123456789ghijkl", "proxy.example"):
        assert secret not in text


def test_scrub_known_key_shapes():
    from lmdsl.telemetry.scrub import scrub

    text = "keys: sk-ant-api03-abcdefghij AKIAABCDEFGHIJKLMNOP ghp_abcdefghijklmnopqrstuvwx hf_abcdefghijklmnopqrstu"
    assert scrub(text, []) == "keys: [redacted] [redacted] [redacted] [redacted]"
    assert scrub("the word positive", ["positive-but-short-not"]) == "the word positive"
