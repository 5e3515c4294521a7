"""The same programs against the embedded model served on loopback by a real ``llama_cpp.server`` and
by llama.cpp's own C++ ``llama-server`` (``any_server``: each in turn).

What works in-process must work served: labels constrained (gbnf via the server's ``grammar`` field,
or a JSON schema), one call per row, label scoring from the server's log-probabilities, and the CLI.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import lmdsl
from lmdsl.cli.main import cli
from lmdsl.evaluate import Evaluate, exact_match
from lmdsl.lm.local import local_extra_installed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not local_extra_installed(), reason="needs pip install 'lmdsl[local]'"),
]

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))


def served(url: str, **kwargs) -> lmdsl.LM:
    return lmdsl.LM("openai/smollm2", api_base=url, **kwargs)


def test_auto_finds_llama_cpp_and_every_reply_is_a_label_in_one_call(any_server):
    from sentiment import Sentiment, devset

    rows = devset[:8]
    lm = served(any_server)
    assert lm.constraint_mode() == "gbnf"  # asked the server what it is
    lmdsl.configure(lm=lm, display_progress=False)
    result = Evaluate(rows, exact_match)(Sentiment())
    assert result.errors == 0 and result.usage["lm_calls"] == len(rows), [r.error for r in result.results]  # no re-ask, no parse failure
    assert "grammar" in json.dumps(lm.history[-1]["params"])

    lmdsl.configure(lm=lmdsl.LM("local/smollm2"))
    local = Evaluate(rows, exact_match)(Sentiment())
    same = sum(a.prediction.label == b.prediction.label for a, b in zip(result.results, local.results))
    assert same >= len(rows) - 1  # same model, greedy: served and in-process agree (allow one near-tie)


def test_json_adapter_on_the_server_gets_a_schema_in_llama_cpp_shape(any_server):
    from sentiment import classify, devset

    lm = served(any_server)
    predict = lmdsl.Predict(classify, adapter=lmdsl.JSONAdapter(), lm=lm)
    for row in devset[:4]:
        assert predict(text=row.text).label in ("negative", "positive")
    assert len(lm.history) == 4  # valid JSON every time: no re-ask
    assert json.loads(lm.history[-1]["outputs"][0])["label"] in ("negative", "positive")


def test_a_server_that_refuses_json_schema_is_a_logged_fallback(server_url, caplog):
    from sentiment import Sentiment, devset

    lm = served(server_url, constrain="json_schema", num_retries=0)  # llama_cpp.server takes json_object only
    lmdsl.configure(lm=lm, display_progress=False)
    with caplog.at_level("WARNING"):
        result = Evaluate(devset[:3], exact_match, max_errors=10)(Sentiment())
    assert "rejected constrain='json_schema'" in caplog.text
    assert lm.constraint_mode() == "none"
    for row in result.results:  # the rejected call was made again without the field: no server error reaches a row
        assert row.error is None or row.error.startswith("ParseError"), row.error


def test_unconstrained_mode_reports_what_it_could_not_read(any_server):
    from sentiment import Sentiment, devset

    lmdsl.configure(lm=served(any_server, constrain="none"), display_progress=False)
    result = Evaluate(devset[:4], exact_match, max_errors=10)(Sentiment())
    for row in result.results:  # either a label or a parse error naming the field
        assert row.error is None or "label" in row.error
        assert row.error is not None or row.prediction.label in ("negative", "positive")


def test_unconstrained_mode_reads_labels_from_the_servers_top_logprobs(any_server):
    from sentiment import Sentiment

    rows = lmdsl.data.load_jsonl(ROOT / "examples/data/sst2_train.jsonl", inputs=["text"], limit=8)
    lm = served(any_server, constrain="none", cache=False)
    lmdsl.configure(lm=lm, display_progress=False)
    result = Evaluate(rows, exact_match, max_errors=10)(Sentiment())
    assert all(entry["params"].get("top_logprobs") == 20 for entry in lm.history)
    assert lm.reads_labels_from_logprobs()  # llama_cpp.server returned them
    read = [row for row in result.results if row.error is None]
    assert len(read) >= 7 and len(lm.history) <= 9  # a label for (nearly) every row, (nearly) one call each


def test_served_label_scores_match_the_in_process_scores_of_the_same_model(any_server):
    from trec import QuestionType

    predictor = QuestionType().classify
    adapter = lmdsl.ChatAdapter()
    choices = ["abbreviation", "description", "entity", "human", "location", "numeric"]
    replies = [adapter.render_reply(predictor.signature, {"label": c}) for c in choices]
    messages = adapter.format(predictor.signature, [], {"text": "Who wrote the opera Carmen?"})
    served_scores = served(any_server, cache=False).score(messages, replies).scores
    local_scores = lmdsl.LM("local/smollm2", cache=False).score(messages, replies).scores
    # the reply's own tokens are forced (logit_bias from the server's tokenizer): same sums, not
    # those of whatever tokenization a grammar alone lets the server pick (e.g. -34 against -12)
    assert served_scores == pytest.approx(local_scores, abs=1.0)


def test_label_scores_from_the_server_are_log_probabilities_of_the_forced_reply(any_server):
    messages = [{"role": "system", "content": "Classify the sentiment. Reply: Label: <negative|positive>"},
                {"role": "user", "content": "Text: a gorgeous, witty, seductive movie."}]
    replies = ["Label: negative", "Label: positive"]
    lm = served(any_server, cache=False)
    first = lm.score(messages, replies)
    assert first.scores is not None and len(first.scores) == 2
    assert all(-200 < s < 0 for s in first.scores)  # summed token log-probabilities
    assert lm.score(messages, replies).scores == first.scores  # greedy forcing: the same path each time
    assert first.usage["completion_tokens"] > 0


def test_scoring_needs_a_mode_that_can_force_a_reply(any_server):
    with pytest.raises(lmdsl.errors.LMError, match="constraint mode is 'none'"):
        served(any_server, constrain="none", cache=False).score([{"role": "user", "content": "hi"}], ["a", "b"])


def test_cli_calibrate_compiles_against_the_server(any_server, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    train = tmp_path / "train.jsonl"
    rows = [json.loads(line) for line in (ROOT / "examples/data/sst2_train.jsonl").read_text().splitlines()[:8]]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "calibrated.json"
    result = CliRunner().invoke(cli, [
        "compile", "examples/sentiment.py:Sentiment", "--optimizer", "calibrate", "--lm", "openai/smollm2",
        "--api-base", any_server, "--trainset", str(train), "--valset", str(train), "-o", str(out), "--json",
    ])
    assert result.exit_code == 0, result.output
    state = json.loads(out.read_text())
    assert state["predictors"]["classify"]["label_bias"] is not None
    assert "api_base" not in json.dumps(state)  # where requests go is never saved


def test_llama_server_takes_a_json_schema_itself(cpp_server_url):
    from sentiment import Sentiment, devset

    lm = served(cpp_server_url, constrain="json_schema", cache=False)  # unlike llama_cpp.server: no fallback
    lmdsl.configure(lm=lm, display_progress=False)
    result = Evaluate(devset[:3], exact_match)(Sentiment())
    assert lm.constraint_mode() == "json_schema" and result.errors == 0 and len(lm.history) == 3
    assert lm.history[-1]["params"]["response_format"]["type"] == "json_schema"
    assert json.loads(lm.history[-1]["outputs"][0])["label"] in ("negative", "positive")
