"""The report page in a real headless Chromium: no console errors, every plot drawn, a screenshot.

The unit test renders a compile of the CLI's fixture program (ScriptedLM); the integration
test renders a real compile of examples/trec.py on the embedded model with a small budget.
``LMDSL_REPORT_SCREENSHOT=docs/images/report.png`` also copies that screenshot there (how the
README's picture is made).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import pytest
from browser_check import Chromium, find_chromium, unavailable_reason
from click.testing import CliRunner

from lmdsl.cli.main import cli

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_PROG = ROOT / "tests/cli/fixtures/sentiment_prog.py"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        warnings.warn(f"browser test skipped: {reason}", stacklevel=1)  # listed in the warnings summary
        print(f"\nbrowser test skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    with Chromium(find_chromium(), tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


def assert_page_is_healthy(check, min_plots: int) -> None:
    assert check.errors == [], check.errors
    assert len(check.plots) >= min_plots, check.plots
    for plot in check.plots:
        assert plot["width"] > 100 and plot["height"] > 60 and plot["marks"] > 5, plot


def compile_with_report(tmp_path: Path, args: list[str]) -> Path:
    report = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["compile", *args, "-o", str(tmp_path / "out.json"), "--report", str(report),
                                      "--json"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # stdout stays one JSON object
    return report


def test_fixture_compile_report_renders_in_chromium(browser, tmp_path):
    report = compile_with_report(tmp_path, [f"{FIXTURE_PROG}:Sentiment", "-O", "num_candidate_programs=1"])
    check = browser.open(report, screenshot=tmp_path / "report.png")
    assert check.title.startswith("Compile report")
    assert_page_is_healthy(check, min_plots=5)
    assert {p["label"] for p in check.plots} >= {"candidate-scores", "phase-times"}
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_check_sees_console_errors_and_blank_plots(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><head><title>t</title></head><body><svg width='0' height='0'></svg>"
                    "<script>console.error('boom'); undefined_function();</script></body></html>")
    check = browser.open(page)
    assert any("boom" in e for e in check.errors) and any("undefined_function" in e for e in check.errors)
    with pytest.raises(AssertionError):
        assert_page_is_healthy(check, min_plots=1)


@pytest.mark.integration
def test_real_trec_compile_report(browser, tmp_path):
    from lmdsl.lm.local import local_extra_installed

    if not local_extra_installed():
        pytest.skip("needs pip install 'lmdsl[local]'")
    for name, source, n in (("train", "trec_train", 12), ("val", "trec_dev", 18)):
        rows = (ROOT / f"examples/data/{source}.jsonl").read_text().splitlines()[:n]
        (tmp_path / f"{name}.jsonl").write_text("\n".join(rows) + "\n")
    report = compile_with_report(tmp_path, [
        str(ROOT / "examples/trec.py:QuestionType"), "--trainset", str(tmp_path / "train.jsonl"),
        "--valset", str(tmp_path / "val.jsonl"), "--lm", "local/smollm2", "-O", "num_candidate_programs=1",
        "-O", "max_labeled_demos=4", "-O", "max_bootstrapped_demos=2"])
    html = report.read_text()
    assert "numeric" in html and "location" in html  # the six TREC labels in the confusion matrices
    shot = tmp_path / "report.png"
    check = browser.open(report, screenshot=shot, max_height=2300)  # the top of the page: README-sized
    assert_page_is_healthy(check, min_plots=5)
    target = os.environ.get("LMDSL_REPORT_SCREENSHOT")
    if target:
        shutil.copyfile(shot, ROOT / target)
