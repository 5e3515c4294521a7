"""MIPROv2 on the real embedded model, from the CLI, with a small budget (bench/optimizers.py has full size)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lmdsl.cli.main import cli
from lmdsl.lm.local import local_extra_installed
from lmdsl.plugins import plugin_manager
from lmdsl_mipro import plugin as mipro_plugin

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not local_extra_installed(), reason="needs pip install 'lmdsl[local]'"),
]

ROOT = Path(__file__).resolve().parents[3]


def test_mipro_compiles_sst2_from_the_cli_and_the_result_loads(tmp_path):
    plugin_manager().add(mipro_plugin, "mipro", distribution="lmdsl-mipro")
    for name, source, n in (("train", "sst2_train", 8), ("val", "sst2_dev", 8)):
        rows = (ROOT / f"examples/data/{source}.jsonl").read_text().splitlines()[:n]
        (tmp_path / f"{name}.jsonl").write_text("\n".join(rows) + "\n")
    out = tmp_path / "mipro.json"
    args = ["compile", str(ROOT / "examples/sentiment.py:Sentiment"), "--optimizer", "mipro",
            "--trainset", str(tmp_path / "train.jsonl"), "--valset", str(tmp_path / "val.jsonl"),
            "-O", "auto=null", "-O", "num_candidates=2", "-O", "num_trials=3", "-O", "minibatch_size=4",
            "-O", "data_aware=false", "-O", "proposer_max_tokens=60",
            "-O", "max_bootstrapped_demos=2", "-O", "max_labeled_demos=2", "-O", "prompt_lm=local/smollm2",
            "--lm", "local/smollm2", "-o", str(out), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    report = data["report"]
    fulls = [c for c in report["candidates"] if c["details"]["full_valset"]]
    assert fulls[0]["name"] == "full valset: default"
    # the program as given is a contender scored on the same valset, so the result is never worse
    assert data["score"] >= data["baseline_score"]
    assert data["score"] == max(c["score"] for c in fulls)
    assert 0 < report["usage"]["lm_calls"] <= report["estimated_calls"]
    assert any(note.startswith("instruction classify[1]: ") for note in report["notes"])  # a proposal was made
    shown = CliRunner().invoke(cli, ["inspect", str(out)])
    assert shown.exit_code == 0, shown.output
    chosen = fulls[[c["score"] for c in fulls].index(data["score"])]["details"]["instructions"]["classify"]
    assert chosen.split("\n")[0] in shown.stdout  # inspect shows the chosen instruction


def test_a_bad_option_is_a_usage_error_before_any_lm_call():
    plugin_manager().add(mipro_plugin, "mipro", distribution="lmdsl-mipro")
    result = CliRunner().invoke(cli, ["compile", str(ROOT / "examples/sentiment.py:Sentiment"), "--optimizer",
                                      "mipro", "-O", "auto=huge", "--lm", "local/smollm2"])
    assert result.exit_code == 2
    assert "auto" in result.output and "light" in result.output
