"""Predict: inputs checked, typed outputs, re-ask with the error, ParseError, LM params from the signature."""

from __future__ import annotations

import pytest

import lmdsl
from lmdsl import Example, ParseError, Predict, Prediction, SignatureError, signature
from lmdsl.adapters import ChatAdapter
from lmdsl.testing import ScriptedLM

SENTIMENT = signature("sentence -> sentiment: Literal['positive', 'negative']", instructions="Classify.")
QA = signature("context: list[str], question -> answer", instructions="Answer.")


class ParamsLM(ScriptedLM):
    """Records the params each provider call received."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params = []

    def _complete(self, messages, params):
        self.params.append(params)
        return super()._complete(messages, params)


def test_typed_outputs(scripted):
    scripted([{"sentiment": "negative"}])
    pred = Predict(SENTIMENT)(sentence="A joyless film.")
    assert isinstance(pred, Prediction)
    assert pred.sentiment == "negative" and pred["sentiment"] == "negative"
    assert pred.completions == [{"sentiment": "negative"}]


def test_usage_on_prediction(scripted):
    scripted(["Sentiment: positive"])
    pred = Predict(SENTIMENT)(sentence="Nice.")
    assert pred.usage["completion_tokens"] == 2 and pred.usage["prompt_tokens"] > 0


def test_input_checks():
    p = Predict(QA)
    with pytest.raises(SignatureError, match=r"^Signature: missing input 'question'$"):
        p.render(context=[])
    with pytest.raises(SignatureError, match=r"^Signature: unexpected input\(s\) questoin; inputs are context, question$"):
        p.render(context=[], questoin="typo")


def test_optional_input_uses_its_default(scripted):
    @signature
    def answer(question: str, context: list[str] | None = None) -> str: ...

    lm = scripted([{"output": "x"}])
    Predict(answer)(question="q")
    assert lm.history[-1]["messages"][-1]["content"] == "Question: q"


def test_demos_are_sent(scripted):
    lm = scripted([{"sentiment": "positive"}])
    p = Predict(SENTIMENT)
    p.demos = [Example(sentence="Great.", sentiment="positive")]
    p(sentence="Fine.")
    assert [m["content"] for m in lm.history[-1]["messages"][1:]] == [
        "Sentence: Great.", "Sentiment: positive", "Sentence: Fine."
    ]


# ---- re-ask ---------------------------------------------------------------------------
def test_reask_shows_the_error_to_the_model(scripted):
    lm = scripted(["Sentiment: meh", "Sentiment: Positive."])
    pred = Predict(SENTIMENT)(sentence="Fine.")
    assert pred.sentiment == "positive"
    assert len(lm.history) == 2
    first, second = (h["messages"] for h in lm.history)
    assert second[: len(first)] == first  # the second request extends the first
    assert second[len(first)] == {"role": "assistant", "content": "Sentiment: meh"}
    assert second[-1]["role"] == "user"
    assert second[-1]["content"] == (
        "I could not read your reply: field 'sentiment': expected Literal['positive', 'negative'], got 'meh' "
        "(not one of positive, negative).\n"
        "Answer with one word: positive or negative."  # a label: the shortest, strictest request
    )


def test_reasks_are_bounded_by_settings_then_parse_error(scripted):
    lm = scripted(["meh", "still meh", "nope", "never used"])
    with pytest.raises(ParseError) as info:
        Predict(SENTIMENT)(sentence="Fine.")
    err = info.value
    assert err.attempts == 3  # one call + max_reasks (2) re-asks
    assert len(lm.history) == 3 and lm.remaining == 1
    assert err.completion == "nope"
    assert err.field == "sentiment"
    assert err.usage == {
        "prompt_tokens": sum(h["usage"]["prompt_tokens"] for h in lm.history),
        "completion_tokens": 4,  # meh + still meh + nope
    }
    assert str(err) == (
        "Signature: could not parse the LM reply after 3 attempt(s): field 'sentiment': expected "
        "Literal['positive', 'negative'], got 'nope' (not one of positive, negative)"
    )
    assert isinstance(err, lmdsl.LmdslError) and isinstance(err, ValueError)


@pytest.mark.parametrize(("max_reasks", "calls"), [(0, 1), (1, 2), (4, 5)])
def test_max_reasks_setting(scripted, max_reasks, calls):
    lm = scripted(["meh"] * 10)
    with lmdsl.context(max_reasks=max_reasks), pytest.raises(ParseError) as info:
        Predict(SENTIMENT)(sentence="Fine.")
    assert info.value.attempts == calls and len(lm.history) == calls


def test_multiple_completions_keep_the_parseable_ones(scripted):
    scripted(["meh", "Sentiment: negative", "positive"])
    pred = Predict(SENTIMENT, n=3)(sentence="x")
    assert pred.sentiment == "negative"
    assert pred.completions == [{"sentiment": "negative"}, {"sentiment": "positive"}]


# ---- LM parameters from the signature -------------------------------------------------
def test_max_tokens_hint_applied():
    lm = ParamsLM([{"sentiment": "positive"}, {"answer": "x"}])
    lmdsl.configure(lm=lm)
    Predict(SENTIMENT)(sentence="x")
    Predict(QA)(context=[], question="q")
    assert lm.params[0]["max_tokens"] == 20  # a label needs few tokens
    assert lm.params[1]["max_tokens"] == 256
    assert lm.history[0]["params"]["max_tokens"] == 20


def test_explicit_max_tokens_win():
    lm = ParamsLM([{"sentiment": "positive"}] * 3, max_tokens=99)
    lmdsl.configure(lm=lm)
    Predict(SENTIMENT)(sentence="x")
    Predict(SENTIMENT, max_tokens=5)(sentence="x")
    Predict(SENTIMENT)(sentence="x", config={"max_tokens": 7})
    assert [p["max_tokens"] for p in lm.params] == [99, 5, 7]


def test_grammar_sent_only_to_grammar_capable_models():
    local = ParamsLM([{"sentiment": "positive"}], model="local/test")
    remote = ParamsLM([{"sentiment": "positive"}], model="openai/test")
    Predict(SENTIMENT, lm=local)(sentence="x")
    Predict(SENTIMENT, lm=remote)(sentence="x")
    assert local.params[0]["grammar"] == ChatAdapter().grammar(SENTIMENT)
    assert "grammar" not in remote.params[0]
    assert "grammar" not in local.history[0]["params"]  # history stays readable


def test_sampling_several_gets_a_temperature():
    lm = ParamsLM([{"sentiment": "positive"}] * 2)
    Predict(SENTIMENT, lm=lm, n=2)(sentence="x")
    assert lm.params[0]["temperature"] == 0.7 and lm.params[0]["n"] == 2


# ---- which LM -------------------------------------------------------------------------
def test_lm_resolution_order():
    configured = ScriptedLM([{"sentiment": "positive"}])
    scoped = ScriptedLM([{"sentiment": "positive"}])
    own = ScriptedLM([{"sentiment": "positive"}])
    per_call = ScriptedLM([{"sentiment": "positive"}])
    lmdsl.configure(lm=configured)
    Predict(SENTIMENT)(sentence="x")
    with lmdsl.context(lm=scoped):
        Predict(SENTIMENT)(sentence="x")
        Predict(SENTIMENT, lm=own)(sentence="x")
        Predict(SENTIMENT, lm=own)(sentence="x", lm=per_call)
    assert [len(lm.history) for lm in (configured, scoped, own, per_call)] == [1, 1, 1, 1]


def test_no_lm_configured_is_a_config_error(monkeypatch):
    import lmdsl.lm.local as local

    monkeypatch.setattr(local, "local_extra_installed", lambda: False)
    with pytest.raises(lmdsl.ConfigError, match="no language model configured"):
        Predict(SENTIMENT)(sentence="x")


def test_lmdsl_lm_env_var_names_the_default_model(monkeypatch):
    monkeypatch.setenv("LMDSL_LM", "openai/gpt-4o-mini")
    from lmdsl import settings

    assert settings.current_lm().model == "openai/gpt-4o-mini"


# ---- trace ----------------------------------------------------------------------------
def test_calls_are_traced(scripted):
    scripted([{"sentiment": "positive"}, {"answer": "Paris"}])
    s, q = Predict(SENTIMENT), Predict(QA)
    with lmdsl.tracing() as trace:
        s(sentence="Nice.")
        q(context=["c"], question="capital?")
    assert [(e.predictor, e.inputs) for e in trace] == [
        (s, {"sentence": "Nice."}),
        (q, {"context": ["c"], "question": "capital?"}),
    ]
    assert trace[1].outputs.answer == "Paris"


def test_no_trace_outside_tracing(scripted):
    scripted([{"sentiment": "positive"}])
    from lmdsl.program.trace import current_trace

    Predict(SENTIMENT)(sentence="x")
    assert current_trace() is None


def test_failed_calls_are_not_traced(scripted):
    scripted(["meh"] * 3)
    with lmdsl.tracing() as trace, pytest.raises(ParseError):
        Predict(SENTIMENT)(sentence="x")
    assert trace == []


def test_repr_and_reset():
    p = Predict(SENTIMENT)
    p.demos = [Example(sentence="a", sentiment="positive")]
    assert repr(p) == "Predict(Signature(Signature: sentence: str -> sentiment: Literal['positive', 'negative']), demos=1)"
    p.reset()
    assert p.demos == []
    assert p.named_predictors() == [("self", p)]
