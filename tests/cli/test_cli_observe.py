"""--trace, --trace-content, --report and evaluate --output on the fixture program (ScriptedLM)."""

from __future__ import annotations

import json
import re

import pytest
from cli_support import FIXTURES, PROG

from lmdsl import telemetry

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("matplotlib")

FAST = "-O num_candidate_programs=1"
DEV = FIXTURES / "dev.jsonl"


@pytest.fixture(autouse=True)
def _fresh_tracers():
    yield
    telemetry.reset()


def spans_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_compile_with_report_and_trace_keeps_stdout_clean(lmdsl_cli, tmp_path):
    run = lmdsl_cli(f"compile {PROG}:Sentiment {FAST} --json --report report.html --trace trace.jsonl")
    assert run.code == 0, run.err
    data = run.json()  # exactly one JSON line on stdout
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") >= 4  # candidates, two confusion matrices, label accuracy, phase times
    assert "Candidates on the valset" in html and "The chosen program" in html and "Rows that changed" in html
    assert f"{data['baseline_score']:.1f}" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched from anywhere
    names = [s["name"] for s in spans_of(tmp_path / "trace.jsonl")]
    assert {"phase baseline", "phase compile random-search", "phase compiled", "program Sentiment",
            "predict classify", "lm scripted/sentiment"} <= set(names)
    assert "report written to report.html" in run.err


def test_evaluate_output_and_report(lmdsl_cli, tmp_path):
    run = lmdsl_cli(f"evaluate {PROG}:Sentiment --devset {DEV} --output rows.csv --report eval.html")
    assert run.code == 0, run.err
    lines = (tmp_path / "rows.csv").read_text().splitlines()
    assert lines[0].split(",")[:3] == ["index", "input.text", "output.label"] and len(lines) == 5
    html = (tmp_path / "eval.html").read_text()
    assert "Evaluation report" in html and "Labels" in html and "Rows scored below 1" in html
    run = lmdsl_cli(f"evaluate {PROG}:Sentiment --devset {DEV} --output rows.jsonl --json")
    assert run.code == 0 and run.json()["n"] == 4
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert [r["score"] for r in rows].count(1.0) == 3 and all(r["calls"] == 1 for r in rows)


def test_console_trace_goes_to_stderr(lmdsl_cli):
    run = lmdsl_cli(f"evaluate {PROG}:Sentiment --devset {DEV} --json --trace console")
    assert run.code == 0, run.err
    assert run.json()["n"] == 4
    assert re.search(r"\[trace [0-9a-f]{32}\] lm scripted/sentiment [\d.]+ ms input_tokens=\d+", run.err)


def test_content_only_on_request(lmdsl_cli, tmp_path):
    lmdsl_cli(f"evaluate {PROG}:Sentiment --devset {DEV} --trace plain.jsonl")
    lmdsl_cli(f"evaluate {PROG}:Sentiment --devset {DEV} --trace full.jsonl --trace-content")
    assert "gen_ai.prompt" not in (tmp_path / "plain.jsonl").read_text()
    assert "gen_ai.prompt" in (tmp_path / "full.jsonl").read_text()


@pytest.mark.parametrize("args, message", [
    ("--trace nowhere", "--trace nowhere: tracing='nowhere': expected a .jsonl file path"),
    ("--trace missing/t.jsonl", "folder 'missing' does not exist"),
    ("--report report.txt", "--report report.txt: expected a .html or .htm file"),
    ("--output rows.xlsx", "--output rows.xlsx: expected a .jsonl or .csv file"),
])
def test_bad_options_are_usage_errors_before_any_work(lmdsl_cli, args, message):
    run = lmdsl_cli(f"evaluate {PROG}:Sentiment --devset {DEV} {args}")
    assert run.code == 2 and message in run.err
    assert "evaluate 1/4" not in run.err
