"""``--optimizer a,b,c`` chains and ``-O teacher=compiled.json``, with a recording finetuner (no training).

The "tuned model" the recording finetuner returns is answered by the fixture's scripted rule,
so every stage (few-shot, fine-tune, calibrate) runs for real on the scripted LM.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import PROG

import lmdsl
import lmdsl.optimizers.finetune as finetune_module
from lmdsl.plugins import plugin_manager
from lmdsl.testing import ScriptedLM


@pytest.fixture
def recorded(monkeypatch, prog_module):
    """A finetuner named ``recording`` whose model answers like the fixture's rule; its calls."""
    calls = []

    def finetuner(dataset, base_model, **options):
        calls.append({"dataset": dataset, "base": base_model, "options": options})
        return "scripted/tuned"

    plugin_manager().registry("finetuners").register("recording", finetuner, "tests")
    monkeypatch.setattr(finetune_module, "LM", lambda name: ScriptedLM(prog_module.rule, model=name))
    return calls


def test_a_chain_runs_each_stage_prints_its_valset_score_and_saves_a_loadable_program(lmdsl_cli, recorded):
    run = lmdsl_cli(f"compile {PROG}:Sentiment --optimizer labeled-few-shot,bootstrap-finetune,calibrate "
                    "-O k=2 -O finetuner=recording -O calibrate.step=0.5 -O learning_rate=0.001 -o chain.json")
    assert run.code == 0, run.err
    rows = dict(line.split("  ", 1) for line in run.out.splitlines())
    stages = [k.strip() for k in rows if k.startswith("stage")]
    assert stages == ["stage 1. labeled-few-shot", "stage 2. bootstrap-finetune", "stage 3. calibrate"]
    assert all(rows[k].strip() == "75.0" for k in rows if k.startswith("stage"))
    assert "[pipeline] stage 2/3 bootstrap-finetune: valset score 75.0 (was 75.0)" in run.err

    (call,) = recorded
    assert call["options"]["learning_rate"] == 0.001  # a key no stage names goes to the finetuner
    assert "k" not in call["options"] and "step" not in call["options"]
    saved = json.loads(Path("chain.json").read_text())
    classify = saved["predictors"]["classify"]
    assert classify["lm"]["model"] == "scripted/tuned"
    assert classify["demos"] == []  # the tuned model answers without the few-shot stage's demos
    assert set(classify["label_bias"]) == {"negative", "positive"}  # calibrated on the tuned model
    options = saved["metadata"]["options"]
    assert options["1.labeled-few-shot"]["k"] == 2 and options["3.calibrate"]["step"] == 0.5
    assert saved["metadata"]["optimizer"] == "labeled-few-shot,bootstrap-finetune,calibrate"

    program = _fresh().load("chain.json")
    assert program.classify.lm.model == "scripted/tuned" and program.classify.label_bias is not None


def _fresh():
    from lmdsl.cli.targets import instantiate_program

    return instantiate_program(f"{PROG}:Sentiment")[1]


def test_the_teacher_of_the_chain_is_the_previous_stage(lmdsl_cli, recorded, prog_module, monkeypatch):
    taught = []
    monkeypatch.setattr(finetune_module.BootstrapFinetune, "build_datasets",
                        _spy(finetune_module.BootstrapFinetune.build_datasets, taught))
    run = lmdsl_cli(f"compile {PROG}:Sentiment --optimizer labeled-few-shot,bootstrap-finetune "
                    "-O k=3 -O finetuner=recording -o chain.json")
    assert run.code == 0, run.err
    assert taught == [3]  # the few-shot stage's program (3 demos) taught


def _spy(method, record):
    def wrapper(self, teacher, rows):
        record.append(len(teacher.classify.demos))
        return method(self, teacher, rows)

    return wrapper


def test_a_compiled_file_teacher_from_the_command_line(lmdsl_cli, recorded, monkeypatch):
    assert lmdsl_cli(f"compile {PROG}:Sentiment --optimizer labeled-few-shot -O k=4 -o fs.json").code == 0
    taught = []
    monkeypatch.setattr(finetune_module.BootstrapFinetune, "build_datasets",
                        _spy(finetune_module.BootstrapFinetune.build_datasets, taught))
    run = lmdsl_cli(f"compile {PROG}:Sentiment --optimizer bootstrap-finetune -O teacher=fs.json "
                    "-O finetuner=recording -O balance=cut --json")
    assert run.code == 0, run.err
    assert taught == [4]
    details = run.json()["report"]["candidates"][-1]["details"]
    assert details["answers"]["passed"] == {"label=positive": 3, "label=negative": 2}  # "meh" fails
    assert details["answers"]["kept"] == {"label=positive": 2, "label=negative": 2}
    assert len(recorded[0]["dataset"]) == 4


def test_a_missing_teacher_file_is_a_usage_error_before_any_lm_call(lmdsl_cli, recorded):
    run = lmdsl_cli(f"compile {PROG}:Sentiment --optimizer bootstrap-finetune -O teacher=nope.json "
                    "-O finetuner=recording")
    assert run.code == 2
    assert run.error_line() == "Error: bootstrap-finetune: teacher file nope.json: no such file"
    assert "baseline" not in run.err and recorded == []


def test_a_teacher_file_of_another_program_is_a_usage_error_before_any_lm_call(lmdsl_cli, recorded):
    other = lmdsl.Predict("question -> answer")
    other.save("qa.json", target="qa.py:QA")
    run = lmdsl_cli(f"compile {PROG}:Sentiment --optimizer labeled-few-shot,bootstrap-finetune "
                    "-O teacher=qa.json -O finetuner=recording")
    assert run.code == 2
    assert "teacher file qa.json (compiled for qa.py:QA) does not fit the program Sentiment" in run.error_line()
    assert "baseline" not in run.err and recorded == []


@pytest.mark.parametrize(("args", "message"), [
    ("--optimizer few-shot,,calibrate", "empty stage name"),
    ("--optimizer labeled-few-shot,nope", "nope"),
    ("--optimizer labeled-few-shot,calibrate -O knn.k=2", "-O knn.k: no stage 'knn'"),
    ("--optimizer labeled-few-shot,calibrate -O epochs=2", "-O epochs: no stage of --optimizer"),
    ("--optimizer labeled-few-shot,calibrate -O 2.step=big", "optimizer 'calibrate' option step=\"big\""),
    ("--optimizer bootstrap-finetune -O balance=undersample", "balance"),
])
def test_bad_chains_and_stage_options_are_usage_errors(lmdsl_cli, args, message):
    run = lmdsl_cli(f"compile {PROG}:Sentiment {args}")
    assert run.code == 2, run.err
    assert message in run.error_line()
    assert "baseline" not in run.err


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_few_shot_then_fine_tune_then_calibrate_on_the_real_model_saves_a_program_that_evaluates(lmdsl_cli, tmp_path):
    """The whole chain on the embedded model with a 3-step LoRA: the file names the tuned GGUF by
    path and hash, carries label biases fitted on it, and ``lmdsl evaluate`` runs it."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("torch")
    lora = pytest.importorskip("lmdsl_lora")
    plugin_manager().registry("finetuners").register("lora", lora.finetune_lora, "lmdsl-lora")
    data = ROOT / "examples" / "data"
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    train.write_text("".join((data / "sst2_train.jsonl").read_text().splitlines(keepends=True)[:24]))
    dev.write_text("".join((data / "sst2_dev.jsonl").read_text().splitlines(keepends=True)[:6]))
    run = lmdsl_cli(f"compile {ROOT / 'examples' / 'sentiment.py'}:Sentiment --lm local/smollm2 "
                    "--optimizer labeled-few-shot,bootstrap-finetune,calibrate -O k=4 -O max_steps=3 "
                    f"--trainset {train} --valset {dev} -o chain.json --json")
    assert run.code == 0, run.err
    stages = [c["name"] for c in run.json()["report"]["candidates"]]
    assert stages == ["as given", "1. labeled-few-shot", "2. bootstrap-finetune", "3. calibrate"]
    classify = json.loads(Path("chain.json").read_text())["predictors"]["classify"]
    assert classify["lm"]["model"].endswith("model.gguf") and len(classify["lm"]["model_sha256"]) == 64
    assert classify["demos"] == [] and set(classify["label_bias"]) == {"negative", "positive"}
    evaluated = lmdsl_cli(f"evaluate chain.json --program {ROOT / 'examples' / 'sentiment.py'}:Sentiment "
                          f"--devset {dev} --json")
    assert evaluated.code == 0, evaluated.err
    assert evaluated.json()["n"] == 6 and evaluated.json()["errors"] == 0


def test_recorded_options_leave_out_objects():
    from lmdsl.cli.options import recordable

    assert recordable({"max_rounds": 2, "metric": len, "names": ["a"], "teacher": object()}) == {
        "max_rounds": 2, "names": ["a"]}
