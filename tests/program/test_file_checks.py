"""A compiled file is checked data (issue 15, items 1, 4 and 7): which LM settings it may carry,
and every malformed value refused with the file and key named, nothing changed."""

from __future__ import annotations

import json

import pytest

import lmdsl
from lmdsl import Example, LoadError, Predict, program


@program
class Mood:
    def __init__(self):
        self.classify = Predict("text -> mood: Literal['sad', 'happy']")
        self.count = Predict("text -> words: int")

    def forward(self, text):
        return self.classify(text=text)


def saved(tmp_path, **lm_params):
    p = Mood()
    p.classify.demos = [Example(text="rain again", mood="sad")]
    p.classify.lm = lmdsl.LM("openai/gpt-4o-mini", top_p=0.5, **lm_params)
    path = p.save(tmp_path / "mood.json", target="mood.py:Mood")
    return path, json.loads(path.read_text())


def rewrite(path, data):
    path.write_text(json.dumps(data))
    return path


def refused(path, match, **kwargs):
    target = Mood()
    with pytest.raises(LoadError, match=match) as info:
        target.load(path, **kwargs)
    assert str(info.value).startswith(str(path)), "the error names the file"
    assert target.classify.demos == [] and target.classify.lm is None, "nothing changed"
    return str(info.value)


def test_only_allow_listed_settings_are_saved(tmp_path):
    _, data = saved(tmp_path, client_secret="cs-1234567890", azure_password="pw-1234567890",
                    aws_web_identity_token="tok-1234567890", api_key="sk-1234567890", extra_headers={"A": "b"})
    assert data["predictors"]["classify"]["lm"] == {"model": "openai/gpt-4o-mini", "temperature": 0.0,
                                                    "max_tokens": None, "top_p": 0.5}


@pytest.mark.parametrize("key", ["api_base", "base_url", "headers", "extra_headers", "api_key", "client_secret",
                                 "aws_web_identity_token", "azure_ad_token", "custom_llm_provider"])
def test_where_requests_go_is_refused_naming_the_key(tmp_path, key):
    path, data = saved(tmp_path)
    data["predictors"]["classify"]["lm"][key] = "http://127.0.0.1:9/v1" if "base" in key else {"x": "y"}
    message = refused(rewrite(path, data), f"predictor 'classify': 'lm' sets '{key}'")
    assert "--trust-file" in message and "trust_file=True" in message


def test_trust_file_accepts_what_the_user_vouches_for(tmp_path):
    path, data = saved(tmp_path)
    data["predictors"]["classify"]["lm"]["api_base"] = "http://127.0.0.1:9/v1"
    loaded = Mood().load(rewrite(path, data), trust_file=True)
    assert loaded.classify.lm.kwargs["api_base"] == "http://127.0.0.1:9/v1"


def test_a_url_is_not_a_model_name(tmp_path):
    path, data = saved(tmp_path)
    data["predictors"]["classify"]["lm"]["model"] = "openai/http://evil.example/v1"
    refused(rewrite(path, data), "model 'openai/http://evil.example/v1' is not a provider/model name")


@pytest.mark.parametrize(("key", "value", "why"), [
    ("temperature", "hot", "expected a finite number"),
    ("max_tokens", -5, "expected a whole number >= 1"),
    ("stop", 3, "expected text or a list of texts"),
])
def test_allowed_settings_must_have_sane_values(tmp_path, key, value, why):
    path, data = saved(tmp_path)
    data["predictors"]["classify"]["lm"][key] = value
    refused(rewrite(path, data), f"'{key}' is .*: {why}")


@pytest.mark.parametrize(("change", "match"), [
    (lambda d: d["predictors"]["classify"].update(instructions=5), "'instructions' must be text, got int 5"),
    (lambda d: d.update(predictors=None), "'predictors' must be an object of predictor entries, got null"),
    (lambda d: d["predictors"].update(classify=[]), "predictor 'classify' must be an object, got list"),
    (lambda d: d["lmdsl"].update(format=-5), r"'lmdsl.format' must be a whole number >= 1, got -5"),
    (lambda d: d["lmdsl"].update(format=True), r"'lmdsl.format' must be a whole number >= 1, got True"),
    (lambda d: d.update(lmdsl="1"), "'lmdsl' must be an object"),
    (lambda d: d.update(program=["sys", "exit"]), "'program' must be text"),
    (lambda d: d.update(metadata=7), "'metadata' must be an object"),
    (lambda d: d["predictors"]["classify"]["demos"][0].update(mood=5), r"demo 0: 'mood' is 5, expected Literal"),
    (lambda d: d["predictors"]["classify"]["demos"][0].update(mood="angry"), "demo 0: 'mood' is \"angry\""),
    (lambda d: d["predictors"]["classify"]["demos"][0].update(text=["a"]), "demo 0: 'text' is .*expected text"),
    (lambda d: d["predictors"]["count"].update(demos=[{"text": "a b", "words": "many"}]),
     "predictor 'count' demo 0: 'words' is \"many\", expected int"),
])
def test_wrong_types_name_the_file_and_key(tmp_path, change, match):
    path, data = saved(tmp_path)
    change(data)
    refused(rewrite(path, data), match)


def test_nan_label_bias_is_refused(tmp_path):
    path, data = saved(tmp_path)
    text = json.dumps(data).replace('"demos"', '"label_bias": {"sad": NaN, "happy": 0}, "demos"', 1)
    path.write_text(text)
    refused(path, "NaN is not a JSON number")


def test_non_utf8_file_is_named(tmp_path):
    path = tmp_path / "mood.json"
    path.write_bytes(b'{"lmdsl": {"format": 1}, "predictors": {"\xff": {}}}')
    refused(path, r"not UTF-8 text \(byte 41\)")


def test_demo_values_that_fit_load(tmp_path):
    path, data = saved(tmp_path)
    data["predictors"]["count"]["demos"] = [{"text": 12, "words": 2, "note": ["extra", "keys", "are", "kept"]}]
    loaded = Mood().load(rewrite(path, data))
    assert loaded.count.demos[0]["words"] == 2


def test_saving_a_nan_names_the_value_instead_of_writing_invalid_json(tmp_path):
    with pytest.raises(ValueError, match=r"mood.json.metadata.score is nan"):
        Mood().save(tmp_path / "mood.json", metadata={"score": float("nan")})
    assert not (tmp_path / "mood.json").exists()
