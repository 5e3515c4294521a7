"""Every bad input: a one-line error naming the culprit, exit 2 for usage errors and 1 for runtime
failures, a traceback only with --debug."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Literal

import click
import pytest
from cli_support import FIXTURES, PROG

P = f"{PROG}:Sentiment"


def usage_error(run, message: str) -> None:
    assert run.code == 2, (run.code, run.err)
    assert run.error_line() == f"Error: {message}"
    assert "Traceback" not in run.err and run.out == ""


def runtime_error(run, message: str, code: int = 1) -> None:
    assert run.code == code, (run.code, run.err)
    assert run.error_line() == f"Error: {message}"
    assert "Traceback" not in run.err and run.out == ""


def test_unknown_target_file(lmdsl_cli):
    usage_error(lmdsl_cli("compile nope.py:Program"), "file not found: nope.py")
    usage_error(lmdsl_cli("run missing.json --input {}"), "file not found: missing.json")


def test_missing_module_attribute(lmdsl_cli):
    usage_error(lmdsl_cli(f"compile {PROG}:Nope"),
                f"{PROG}:Nope: no attribute 'Nope' in {PROG}; programs there: Sentiment, NeedsArgs, instance")


def test_target_without_an_attribute(lmdsl_cli):
    usage_error(lmdsl_cli(f"evaluate {PROG}"),
                f"{PROG}: say which program with ':name' (e.g. {PROG}:Sentiment, NeedsArgs, instance)")


def test_unknown_module(lmdsl_cli):
    usage_error(lmdsl_cli("compile nosuchpkg.mod:Program"),
                "no module named 'nosuchpkg.mod' (use pkg.module:attr or path/to/file.py:attr)")


@pytest.mark.parametrize(("attr", "message"), [
    ("Plain", "Plain is not an lmdsl program (decorate it with @program)"),
    ("not_a_program", "int is not a program, class or factory"),
    ("make_nothing", "factory returned int, not an lmdsl program"),
    ("NeedsArgs", "cannot build NeedsArgs with no arguments"),
])
def test_targets_that_are_not_programs(lmdsl_cli, attr, message):
    run = lmdsl_cli(f"run {PROG}:{attr} --input {{}}")
    assert run.code == 2
    assert run.error_line().startswith(f"Error: {PROG}:{attr}: {message}")


def test_bad_json_on_line_n_of_a_dataset(lmdsl_cli):
    path = FIXTURES / "bad_line3.jsonl"
    usage_error(lmdsl_cli(f"compile {P} --trainset {path}"),
                f"{path} line 3: invalid JSON (Expecting value at column 10)")
    usage_error(lmdsl_cli(f"evaluate {P} --devset {path}"),
                f"{path} line 3: invalid JSON (Expecting value at column 10)")
    usage_error(lmdsl_cli(f"run {P} --input-file {path}"),
                f"{path} line 3: invalid JSON (Expecting value at column 10)")


def test_a_row_missing_a_forward_input(lmdsl_cli):
    path = FIXTURES / "missing_input.jsonl"
    usage_error(lmdsl_cli(f"compile {P} --valset {path}"),
                f"{path} line 2: missing input 'text' (the program's forward takes text; row has sentence, label)")
    usage_error(lmdsl_cli("run", P, "--input", '{"txt": "x"}'), "--input line 1: missing input 'text'")


def test_missing_dataset_file(lmdsl_cli):
    usage_error(lmdsl_cli(f"evaluate {P} --devset nope.jsonl"), "nope.jsonl: no such file")


def test_unknown_optimizer_lists_the_known_ones(lmdsl_cli):
    run = lmdsl_cli(f"compile {P} --optimizer zzz")
    assert run.code == 2 and run.out == ""
    line = run.error_line()
    assert line.startswith("Error: unknown optimizer 'zzz'; known: bootstrap, ")
    known = line.split("known: ")[1].split(", ")
    assert known == sorted(known) and {"labeled-few-shot", "random-search", "knn", "ensemble"} <= set(known)


def test_bad_optimizer_option_name(lmdsl_cli):
    run = lmdsl_cli(f"compile {P} -O bogus=1")
    assert run.code == 2
    line = run.error_line()
    assert line.startswith("Error: optimizer 'random-search' has no option 'bogus'; options: metric, ")
    assert "num_candidate_programs" in line and "stop_at_score" in line


@pytest.mark.parametrize(("option", "message"), [
    ("num_candidate_programs=abc", 'num_candidate_programs="abc": expected int'),
    ("num_candidate_programs=1.5", "num_candidate_programs=1.5: expected int"),
    ("stop_at_score=high", 'stop_at_score="high": expected float'),
    ("max_rounds=true", "max_rounds=true: expected int"),
])
def test_bad_optimizer_option_value_type(lmdsl_cli, option, message):
    usage_error(lmdsl_cli(f"compile {P} -O {option}"), f"optimizer 'random-search' option {message}")


def test_malformed_option_pair(lmdsl_cli):
    usage_error(lmdsl_cli(f"compile {P} -O seed"), "-O 'seed': expected key=value")


def test_unknown_metric_name(lmdsl_cli):
    run = lmdsl_cli(f"evaluate {P} --metric nope")
    assert run.code == 2
    assert run.error_line().startswith("Error: unknown metric 'nope'; known: ")
    assert "exact_match" in run.error_line()


def test_a_metric_that_raises_is_a_one_line_runtime_failure(lmdsl_cli):
    for command in (f"compile {P} --metric {PROG}:broken_metric", f"evaluate {P} --metric {PROG}:broken_metric"):
        run = lmdsl_cli(command)
        assert run.code == 1, run.err
        line = run.error_line()
        assert line.startswith("Error: metric broken_metric raised AttributeError: Example has no field 'sentiment'")
        assert line.endswith("on devset row 0 (Example({'text': 'good fun', 'label': 'positive'}, inputs=['text']))")
        assert run.err.splitlines()[-1] == "(run with --debug for a traceback)"
        assert "Traceback" not in run.err and run.out == ""
    assert not Path("Sentiment.compiled.json").exists()


def test_debug_shows_a_traceback():
    proc = subprocess.run([sys.executable, "-m", "lmdsl", "--debug", "compile", P, "--trainset",
                           str(FIXTURES / "bad_line3.jsonl")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LMDSL_DISABLE_PLUGINS": "1"})
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("lmdsl.errors.DataError: ")
    assert "line 3: invalid JSON" in proc.stderr


def test_without_debug_the_same_error_is_one_line_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "lmdsl", "compile", P, "--trainset",
                           str(FIXTURES / "bad_line3.jsonl")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LMDSL_DISABLE_PLUGINS": "1"})
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"Error: {FIXTURES / 'bad_line3.jsonl'} line 3: invalid JSON (Expecting "
                                        "value at column 10)", "(run with --debug for a traceback)"]
    assert proc.stdout == ""


def test_no_dataset_or_metric_in_a_module(lmdsl_cli, tmp_path):
    bare = tmp_path / "bare.py"
    bare.write_text(PROG.read_text().split("def _row")[0])  # the program and the LM, no data or metric
    usage_error(lmdsl_cli(f"compile {bare}:Sentiment"),
                "no trainset: pass --trainset PATH or define `trainset` in the program's module")
    usage_error(lmdsl_cli(f"evaluate {bare}:Sentiment"),
                "no devset: pass --devset PATH or define `devset` in the program's module")
    usage_error(lmdsl_cli(f"evaluate {bare}:Sentiment --devset {FIXTURES / 'dev.jsonl'}"),
                "no metric: pass --metric NAME|module:function or define `metric` in the module")


def test_run_input_errors(lmdsl_cli):
    usage_error(lmdsl_cli(f"run {P}"), "give exactly one of --input '{...}' or --input-file rows.jsonl")
    usage_error(lmdsl_cli("run", P, "--input", "{bad"),
                "--input: invalid JSON (Expecting property name enclosed in double quotes at column 2)")
    usage_error(lmdsl_cli("run", P, "--input", "[1]"), "--input: expected a JSON object")


def test_compiled_files_that_cannot_be_used(lmdsl_cli, tmp_path):
    orphan = tmp_path / "orphan.json"
    orphan.write_text(json.dumps({"lmdsl": {"version": "0.1.0", "format": 1}, "predictors": {}}))
    usage_error(lmdsl_cli(f"run {orphan} --trust-file --input {{}}"),
                f"{orphan}: the file does not say which program it belongs to (no 'program' key); "
                "pass --program TARGET")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    usage_error(lmdsl_cli(f"inspect {broken}"),
                f"{broken} line 1: not valid JSON (Expecting property name enclosed in double quotes)")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"lmdsl": {"version": "0.1.0", "format": 1}, "program": P,
                                 "predictors": {"generate": {"type": "Predict", "demos": []}}}))
    run = lmdsl_cli(f"evaluate {other} --program {P}")
    assert run.code == 2 and run.out == ""
    assert run.error_line().startswith(f"Error: {other}: predictors do not match (program predictor(s) not in "
                                       "file: classify; file predictor(s) not in program: generate)")


def test_a_wrapper_optimizer_is_refused_before_compiling(lmdsl_cli):
    usage_error(lmdsl_cli(f"compile {P} --optimizer knn -O k=2"),
                f"optimizer 'knn' returns a new program wrapping {P}, which a compiled .json cannot hold; "
                "use it from Python (optimizer.compile(program, ...))")
    assert not Path("Sentiment.compiled.json").exists()


def test_bad_threads_value(lmdsl_cli):
    run = lmdsl_cli(f"evaluate {P} --threads 0")
    assert run.code == 2 and "--threads" in run.error_line()


def test_a_target_file_that_raises_on_import(lmdsl_cli, tmp_path):
    bad = tmp_path / "raises.py"
    bad.write_text("raise RuntimeError('boom at import')\n")
    runtime_error(lmdsl_cli(f"run {bad}:X --input {{}}"), "RuntimeError: boom at import")


def test_some_program_failures_are_scored_and_reported_not_fatal(lmdsl_cli, tmp_path):
    crashing = tmp_path / "crashing.py"
    crashing.write_text(PROG.read_text() + (
        "\n\n@program\nclass Crashing:\n    def __init__(self):\n        self.inner = Sentiment()\n\n"
        "    def forward(self, text):\n        if 'fun' in text:\n"
        "            raise ValueError(f'cannot read {text!r}')\n        return self.inner(text=text)\n"))
    run = lmdsl_cli(f"evaluate {crashing}:Crashing --json")
    assert run.code == 0, run.err
    assert run.json()["score"] == 50.0 and run.json()["errors"] == 1
    run = lmdsl_cli(f"evaluate {crashing}:Crashing")
    assert run.code == 0
    assert "first error: ValueError: cannot read 'good fun' (at " in run.err


def test_every_row_failing_is_a_failure_not_a_score_of_zero(lmdsl_cli, tmp_path):
    crashing = tmp_path / "crashing.py"
    crashing.write_text(PROG.read_text() + (
        "\n\n@program\nclass Crashing:\n    def forward(self, text):\n"
        "        raise ValueError(f'cannot read {text!r}')\n"))
    for flags in ("--json", ""):
        run = lmdsl_cli(f"evaluate {crashing}:Crashing {flags}")
        assert run.code == 1 and run.out == ""
        assert run.error_line().startswith("Error: evaluate: all 4 examples failed; first error: "
                                           "ValueError: cannot read 'good fun' (at ")


def factory(mode: Literal["fast", "slow"] = "fast", size: int | str = 1):
    return None


def test_optional_options_accept_null_and_literals_are_checked(lmdsl_cli):
    from lmdsl.cli.options import check_options

    run = lmdsl_cli(f"compile {P} -O num_candidate_programs=0 -O stop_at_score=null -O max_rounds=2 "
                    "-O metric_threshold=0.5 --json")
    assert run.code == 0, run.err
    assert run.json()["report"]["candidates"][0]["name"] == "zero-shot"
    usage_error(lmdsl_cli(f"compile {P} -O seed=null"), "optimizer 'random-search' option seed=null: expected int")

    assert check_options(factory, {"mode": "slow", "size": "big"}, "f") == {"mode": "slow", "size": "big"}
    with pytest.raises(click.UsageError, match=r'^f option mode="medium": expected "fast" or "slow"$'):
        check_options(factory, {"mode": "medium"}, "f")
    with pytest.raises(click.UsageError, match=r"^f option size=1.5: expected int or str$"):
        check_options(factory, {"size": 1.5}, "f")
