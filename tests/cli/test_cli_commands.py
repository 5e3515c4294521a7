"""Every command on a tiny fixture program whose module provides a ScriptedLM, data and a metric."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import FIXTURES, PROG

import lmdsl

FAST = "-O num_candidate_programs=2"
DEV = FIXTURES / "dev.jsonl"


def test_compile_json_output(lmdsl_cli):
    run = lmdsl_cli(f"compile {PROG}:Sentiment {FAST} --json")
    assert run.code == 0, run.err
    data = run.json()
    assert {"baseline_score", "score", "lm_calls", "output"} <= set(data)
    assert data["baseline_score"] == 75.0 and data["score"] == 75.0  # "meh" is always wrong
    assert data["lm_calls"] > 0 and data["valset_size"] == 4 and data["optimizer"] == "random-search"
    assert data["output"] == "Sentiment.compiled.json" and Path("Sentiment.compiled.json").is_file()
    report = data["report"]
    assert [c["name"] for c in report["candidates"]][:3] == ["zero-shot", "labeled", "bootstrap"]
    # progress, the estimate and the actual count go to stderr
    assert "baseline 4/4" in run.err and "[random-search] estimated about" in run.err
    assert "[random-search] done in" in run.err


def test_compile_prints_a_table(lmdsl_cli):
    run = lmdsl_cli(f"compile {PROG}:Sentiment {FAST} -o out/s.json")
    assert run.code == 0, run.err
    rows = dict(line.split("  ", 1) for line in run.out.splitlines())
    assert {k.strip() for k in rows} == {"baseline score", "compiled score", "valset size", "LM calls", "tokens",
                                         "wall time", "saved to"}
    assert rows["baseline score"].strip() == "75.0" and rows["saved to"].strip() == "out/s.json"


def test_the_compiled_file_remembers_its_program(lmdsl_cli):
    assert lmdsl_cli(f"compile {PROG}:Sentiment --optimizer bootstrap -O max_labeled_demos=1 "
                     "-O max_bootstrapped_demos=2 -o out/s.json").code == 0
    saved = json.loads(Path("out/s.json").read_text())
    assert saved["program"].endswith("sentiment_prog.py:Sentiment")
    assert saved["metadata"]["optimizer"] == "bootstrap" and saved["metadata"]["score"] == 75.0
    assert len(saved["predictors"]["classify"]["demos"]) == 2

    run = lmdsl_cli("evaluate out/s.json --trust-file --json")  # the user vouches for the file's program key
    assert run.code == 0, run.err
    assert run.json()["score"] == 75.0
    assert {"score", "n", "errors"} <= set(run.json()) and run.json()["n"] == 4

    run = lmdsl_cli("run", "out/s.json", "--trust-file", "--input", '{"text": "a lovely film"}')
    assert run.code == 0, run.err
    assert run.json() == {"label": "positive"}


def test_the_compiled_file_works_from_another_directory(lmdsl_cli, tmp_path):
    assert lmdsl_cli(f"compile {PROG}:Sentiment --optimizer labeled-few-shot -O k=2 -o out/s.json").code == 0
    os.chdir(tmp_path / "out")
    run = lmdsl_cli(f"evaluate {tmp_path / 'out' / 's.json'} --trust-file --devset {DEV} --json")
    assert run.code == 0, run.err
    assert run.json()["n"] == 4


def test_the_compiled_demos_are_used(lmdsl_cli, prog_module):
    assert lmdsl_cli(f"compile {PROG}:Sentiment --optimizer labeled-few-shot -O k=2 -o s.json").code == 0
    before = len(prog_module.lm.requests)
    assert lmdsl_cli("run", "s.json", "--program", f"{PROG}:Sentiment", "--input", '{"text": "fun"}').code == 0
    (messages,) = prog_module.lm.requests[before:]
    assert len(messages) == 2 + 2 * 2  # system, two demos, the input


def test_run_input_file_emits_one_json_per_line(lmdsl_cli):
    run = lmdsl_cli(f"run {PROG}:Sentiment --input-file {FIXTURES / 'inputs.jsonl'}")
    assert run.code == 0, run.err
    assert [json.loads(line) for line in run.out.splitlines()] == [
        {"label": "positive"}, {"label": "negative"}, {"label": "positive"}]


@pytest.mark.parametrize("attr", ["Sentiment", "instance", "make_sentiment"])
def test_targets_class_instance_or_factory(lmdsl_cli, attr):
    run = lmdsl_cli("run", f"{PROG}:{attr}", "--input", '{"text": "good"}')
    assert run.code == 0, run.err
    assert run.json() == {"label": "positive"}


def test_module_targets(lmdsl_cli, monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES))
    run = lmdsl_cli("evaluate sentiment_prog:Sentiment --json")
    assert run.code == 0, run.err
    assert run.json()["score"] == 75.0


def test_evaluate_with_files_threads_and_table(lmdsl_cli):
    one = lmdsl_cli(f"evaluate {PROG}:Sentiment --devset {DEV} --metric exact_match --json")
    two = lmdsl_cli(f"evaluate {PROG}:Sentiment --devset {DEV} --threads 2 --json")
    assert one.code == two.code == 0
    assert one.json()["score"] == two.json()["score"] == 75.0
    assert one.json()["errors"] == 0 and one.json()["lm_calls"] == 4
    table = lmdsl_cli(f"evaluate {PROG}:Sentiment --devset {DEV}")
    assert table.out.splitlines()[0].split() == ["score", "75.0"]
    assert "evaluate 4/4" in table.err and "evaluate 4/4" not in table.out


def test_compile_with_trainset_and_valset_files(lmdsl_cli):
    run = lmdsl_cli(f"compile {PROG}:Sentiment --trainset {DEV} --valset {DEV} --optimizer bootstrap "
                    "-O max_bootstrapped_demos=1 -O max_labeled_demos=0 --json")
    assert run.code == 0, run.err
    data = run.json()
    assert data["baseline_score"] == 75.0 and data["valset_size"] == 4
    saved = json.loads(Path(data["output"]).read_text())
    assert saved["predictors"]["classify"]["demos"] == [{"text": "a lovely day", "label": "positive",
                                                         "augmented": True}]


def test_compile_seed_and_threads_do_not_change_the_result(lmdsl_cli):
    a = lmdsl_cli(f"compile {PROG}:Sentiment {FAST} --seed 3 -o a.json --json").json()
    b = lmdsl_cli(f"compile {PROG}:Sentiment {FAST} --seed 3 --threads 2 -o b.json --json").json()
    assert [c["score"] for c in a["report"]["candidates"]] == [c["score"] for c in b["report"]["candidates"]]
    assert json.loads(Path("a.json").read_text())["predictors"] == json.loads(Path("b.json").read_text())["predictors"]


def test_inspect_prints_the_template_with_demos(lmdsl_cli):
    assert lmdsl_cli(f"compile {PROG}:Sentiment --optimizer labeled-few-shot -O k=2 -O sample=false "
                     "-o s.json").code == 0
    run = lmdsl_cli(f"inspect s.json --program {PROG}:Sentiment")
    assert run.code == 0, run.err
    out = run.out
    assert out.startswith("# ") and "(optimizer labeled-few-shot: 75.0 -> 75.0)" in out.splitlines()[0]
    assert "=== classify: " in out and "2 demo(s) ===" in out
    assert "[system]\nClassify the sentiment of a sentence." in out
    assert "[user]\nText: a good film\n[assistant]\nLabel: positive\n[user]\nText: bad acting\n" in out
    assert out.rstrip().endswith("[user]\nText: {text}")


def test_inspect_a_program_target(lmdsl_cli):
    run = lmdsl_cli(f"inspect {PROG}:Sentiment")
    assert run.code == 0 and "0 demo(s)" in run.out and "Text: {text}" in run.out


def test_plugins(lmdsl_cli):
    run = lmdsl_cli("plugins")
    assert run.code == 0, run.err
    assert "(built-in)" in run.out and "optimizers: " in run.out and "random-search" in run.out
    data = lmdsl_cli("plugins --json").json()
    assert set(data) == {"plugins", "failures"} and data["failures"] == []
    registered = {}
    for plugin in data["plugins"]:
        assert {"name", "distribution", "version", "builtin", "hooks", "registered"} <= set(plugin)
        for kind, names in plugin["registered"].items():
            registered.setdefault(kind, []).extend(names)
    assert {"labeled-few-shot", "bootstrap", "random-search", "knn", "ensemble"} <= set(registered["teleprompters"])
    assert {"exact_match", "f1"} <= set(registered["metrics"])


def test_lm_option_wins_over_the_modules_lm(lmdsl_cli, monkeypatch, prog_module):
    from lmdsl.testing import ScriptedLM

    made = []

    def fake_lm(model):
        made.append(model)
        return ScriptedLM(lambda inputs: {"label": "negative"}, model=model)

    monkeypatch.setattr(lmdsl, "LM", fake_lm)
    before = len(prog_module.lm.requests)
    run = lmdsl_cli(f"evaluate {PROG}:Sentiment --lm other/model --json")
    assert made == ["other/model"] and run.json()["score"] == 50.0
    assert len(prog_module.lm.requests) == before


def test_lmdsl_lm_variable_wins_over_the_modules_lm(lmdsl_cli, monkeypatch, prog_module):
    from lmdsl.lm import default
    from lmdsl.testing import ScriptedLM

    monkeypatch.setenv("LMDSL_LM", "env/model")
    monkeypatch.setattr(default, "default_lm",
                        lambda: ScriptedLM(lambda inputs: {"label": "negative"}, model=os.environ["LMDSL_LM"]))
    before = len(prog_module.lm.requests)
    run = lmdsl_cli(f"evaluate {PROG}:Sentiment --json")
    assert run.code == 0, run.err
    assert run.json()["score"] == 50.0 and len(prog_module.lm.requests) == before


def test_interrupt_exits_130_with_a_resume_hint(lmdsl_cli, monkeypatch, prog_module):
    from lmdsl.testing import ScriptedLM

    class Interrupting(ScriptedLM):
        def _complete(self, messages, params):
            raise KeyboardInterrupt

    monkeypatch.setattr(prog_module, "lm", Interrupting(lambda inputs: {}))
    run = lmdsl_cli(f"evaluate {PROG}:Sentiment")
    assert run.code == 130
    assert run.err.strip().splitlines()[-1] == ("interrupted: finished LM calls are cached; re-run the same "
                                                "command to resume")


def test_python_dash_m_lmdsl_help():
    env = {**os.environ, "LMDSL_DISABLE_PLUGINS": "1"}
    proc = subprocess.run([sys.executable, "-m", "lmdsl", "--help"], capture_output=True, text=True, timeout=60,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: ")
    for command in ("compile", "evaluate", "run", "inspect", "plugins"):
        assert f"  {command} " in proc.stdout


def test_compile_with_calibrate_saves_label_biases_that_run_and_inspect_use(lmdsl_cli):
    run = lmdsl_cli(f"compile {PROG}:Sentiment --optimizer calibrate -O step=0.5 -o c.json --json")
    assert run.code == 0, run.err
    data = run.json()
    assert data["optimizer"] == "calibrate" and data["score"] == 75.0  # "meh" is scored 10 nats the wrong way
    saved = json.loads(Path("c.json").read_text())
    assert saved["predictors"]["classify"]["label_bias"] == {"negative": 0.0, "positive": 0.0}
    assert "[calibrate] sweep 1: trainset" in run.err
    inspected = lmdsl_cli(f"inspect c.json --program {PROG}:Sentiment")
    assert "[scored, not generated: each label's log-likelihood plus its bias: negative +0.00, positive +0.00]" \
        in inspected.out
    answered = lmdsl_cli(f"run c.json --program {PROG}:Sentiment --input '{{\"text\": \"great fun\"}}'")
    assert answered.code == 0, answered.err
    assert json.loads(answered.out)["label"] == "positive"


def test_a_compiled_file_can_be_compiled_again_without_being_overwritten(lmdsl_cli):
    assert lmdsl_cli(f"compile {PROG}:Sentiment --optimizer labeled-few-shot -O k=2 -o fs.json").code == 0
    before = Path("fs.json").read_text()
    run = lmdsl_cli("compile fs.json --trust-file --optimizer calibrate --json")
    assert run.code == 0, run.err
    assert run.json()["output"] == "fs.calibrate.json" and Path("fs.json").read_text() == before
    chained = json.loads(Path("fs.calibrate.json").read_text())["predictors"]["classify"]
    assert len(chained["demos"]) == 2 and set(chained["label_bias"]) == {"negative", "positive"}
