"""The real embedded model on real data: SST-2 through Predict, the optimizers and the CLI.

Small sizes keep this under a minute on 2 cores; bench/ has the full-size figures.
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
from lmdsl.optimizers import Calibrate

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not local_extra_installed(), reason="needs pip install 'lmdsl[local]'"),
]

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))


def test_zero_shot_replies_always_parse_into_a_label():
    from sentiment import Sentiment, devset

    lmdsl.configure(lm=lmdsl.LM("local/smollm2"), display_progress=False)
    result = Evaluate(devset[:30], exact_match)(Sentiment())
    assert result.errors == 0  # no ParseError: every reply is a valid label (grammar + lenient parser)
    labels = {row.prediction.label for row in result.results}
    assert labels <= {"positive", "negative"}
    assert result.usage["lm_calls"] == 30
    again = Evaluate(devset[:30], exact_match)(Sentiment())
    assert again.score == result.score and again.usage["lm_calls"] == 0  # every call answered by the cache


def test_compile_from_the_cli_picks_a_candidate_at_least_as_good_as_zero_shot(tmp_path):
    out = tmp_path / "sentiment.json"
    for name, source, n in (("train", "sst2_train", 10), ("val", "sst2_dev", 12)):
        rows = (ROOT / f"examples/data/{source}.jsonl").read_text().splitlines()[:n]
        (tmp_path / f"{name}.jsonl").write_text("\n".join(rows) + "\n")
    args = ["compile", str(ROOT / "examples/sentiment.py:Sentiment"), "--trainset", str(tmp_path / "train.jsonl"),
            "--valset", str(tmp_path / "val.jsonl"), "-O", "num_candidate_programs=1", "-O", "max_labeled_demos=4",
            "-O", "max_bootstrapped_demos=2", "--lm", "local/smollm2", "-o", str(out), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    names = [c["name"] for c in data["report"]["candidates"]]
    assert names[:3] == ["zero-shot", "labeled", "bootstrap"]
    # The zero-shot program is a candidate scored on the same valset, so the best is never worse.
    assert data["score"] >= data["baseline_score"]
    assert data["score"] == max(c["score"] for c in data["report"]["candidates"])
    saved = json.loads(out.read_text())
    assert saved["metadata"]["score"] == data["score"]
    evaluated = CliRunner().invoke(cli, ["evaluate", str(out), "--trust-file", "--devset", str(tmp_path / "val.jsonl"), "--json",
                                         "--lm", "local/smollm2"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout.strip().splitlines()[-1])["score"] == data["score"]


def test_calibrating_the_label_lifts_held_out_accuracy(tmp_path):
    """Fitted on 40 training sentences, checked on 60 dev sentences the fit never saw."""
    from sentiment import Sentiment, trainset, valset

    lmdsl.configure(lm=lmdsl.LM("local/smollm2"), display_progress=False)
    optimizer = Calibrate(exact_match)
    optimizer.verbose = False
    calibrated = optimizer.compile(Sentiment(), trainset=trainset)
    bias = calibrated.classify.label_bias
    assert bias["negative"] == 0.0 and bias["positive"] > 0  # the model leans towards "negative"
    details = optimizer.report.candidates[-1].details
    assert details["trainset_calibrated"] > details["trainset_unbiased"]
    zero_shot = Evaluate(valset, exact_match)(Sentiment()).score
    held_out = Evaluate(valset, exact_match)(calibrated).score
    assert held_out >= zero_shot + 5, (zero_shot, held_out)
    path = calibrated.save(tmp_path / "calibrated.json")
    reloaded = Sentiment()
    reloaded.load(path)
    assert Evaluate(valset, exact_match)(reloaded).score == held_out
