"""BootstrapFinetune with ScriptedLM and a recording finetuner (no training)."""

from __future__ import annotations

import json

import pytest
from tp_programs import Mood

import lmdsl
from lmdsl.errors import ConfigError, LoadError
from lmdsl.evaluate import exact_match
from lmdsl.plugins import plugin_manager
from lmdsl.teleprompt import BootstrapFinetune, LabeledFewShot
from lmdsl.testing import ScriptedLM


@lmdsl.program
class TwoStep:
    """An intermediate predictor (no labels) feeding the answerer."""

    def __init__(self):
        self.rewrite = lmdsl.Predict("question -> query")
        self.answer = lmdsl.Predict("query -> answer")

    def forward(self, question):
        query = self.rewrite(question=question).query
        return self.answer(query=query)


TRAIN = [lmdsl.Example(question=f"q{i}", answer=f"a{i}").with_inputs("question") for i in range(6)]


def scripted(inputs):
    if "question" in inputs:
        return {"query": f"search {inputs['question']}"}
    i = int(inputs["query"].split("q")[-1])
    return {"answer": f"a{i}" if i % 3 else "wrong"}  # rows 0 and 3 fail the metric


@pytest.fixture
def recorded():
    calls = []

    def finetuner(dataset, base_model, **options):
        calls.append({"dataset": dataset, "base": base_model, "options": options})
        return "scripted/tuned-model"

    plugin_manager().registry("finetuners").register("recording", finetuner, "tests")
    return calls


def test_training_set_has_one_example_per_predictor_call_of_passing_runs_only(recorded, tmp_path):
    lmdsl.configure(lm=ScriptedLM(scripted))
    export = tmp_path / "train.jsonl"
    optimizer = BootstrapFinetune(exact_match, finetuner="recording", export_path=str(export), epochs=3)
    student = optimizer.compile(TwoStep(), trainset=TRAIN)

    (call,) = recorded
    dataset = call["dataset"]
    assert len(dataset) == 2 * 4  # 4 passing runs x 2 predictor calls, intermediate step included
    users = [ex["messages"][-2]["content"] for ex in dataset]
    assert "Question: q1" in users and "Query: search q1" in users
    assert not any(u.endswith("q0") or u.endswith("q3") for u in users)  # failing runs left out
    replies = {ex["messages"][-1]["content"] for ex in dataset}
    assert "Answer: a1" in replies and "Query: search q2" in replies
    assert all(ex["messages"][-1]["role"] == "assistant" for ex in dataset)
    assert call["base"] == "scripted/lm" and call["options"]["epochs"] == 3
    assert optimizer.datasets.keys() == {"rewrite", "answer"}
    exported = [json.loads(line) for line in export.read_text().splitlines()]
    assert exported == dataset  # the OpenAI chat fine-tuning format, one JSON object per line
    assert all(p.lm.model == "scripted/tuned-model" for p in student.predictors())
    kept = optimizer.report.candidates[-1].details["examples_kept"]
    assert kept == {"rewrite": 4, "answer": 4}


def test_training_prompts_never_contain_demos(recorded):
    lmdsl.configure(lm=ScriptedLM(scripted))
    teacher = LabeledFewShot(k=3).compile(TwoStep(), trainset=TRAIN)
    BootstrapFinetune(exact_match, finetuner="recording", teacher=teacher).compile(TwoStep(), trainset=TRAIN)
    for example in recorded[0]["dataset"]:
        roles = [m["role"] for m in example["messages"]]
        assert roles == ["system", "user", "assistant"]  # demos would add user/assistant pairs


def test_multitask_false_trains_one_model_per_predictor(recorded):
    lmdsl.configure(lm=ScriptedLM(scripted))
    BootstrapFinetune(exact_match, finetuner="recording", multitask=False).compile(TwoStep(), trainset=TRAIN)
    assert len(recorded) == 2 and all(len(c["dataset"]) == 4 for c in recorded)


def test_unknown_finetuner_names_the_plugin_to_install():
    lmdsl.configure(lm=ScriptedLM(scripted))
    with pytest.raises(ConfigError, match=r"unknown finetuner 'lora'.*lmdsl-lora"):
        BootstrapFinetune(exact_match).compile(TwoStep(), trainset=TRAIN)


def test_no_passing_run_is_a_clear_error(recorded):
    lmdsl.configure(lm=ScriptedLM(lambda inputs: {"query": "x"} if "question" in inputs else {"answer": "no"}))
    with pytest.raises(ConfigError, match="no teacher run passed the metric"):
        BootstrapFinetune(exact_match, finetuner="recording").compile(TwoStep(), trainset=TRAIN)
    assert recorded == []


def test_tuned_model_file_is_saved_with_its_hash_and_checked_on_load(tmp_path):
    model = tmp_path / "tuned.gguf"
    model.write_bytes(b"GGUF fake weights")

    def finetuner(dataset, base_model, **options):
        return f"local/{model}"

    plugin_manager().registry("finetuners").register("file", finetuner, "tests")
    lmdsl.configure(lm=ScriptedLM(scripted))
    student = BootstrapFinetune(exact_match, finetuner="file").compile(TwoStep(), trainset=TRAIN)
    saved = student.save(tmp_path / "program.json")
    state = json.loads(saved.read_text())
    assert state["predictors"]["answer"]["lm"]["model_sha256"]
    TwoStep().load(saved)  # intact file loads
    model.write_bytes(b"GGUF altered weights")
    with pytest.raises(LoadError, match="altered"):
        TwoStep().load(saved)
    model.unlink()
    with pytest.raises(LoadError, match="missing"):
        TwoStep().load(saved)


# Six positive rows and six negative; the teacher says "negative" to all but rows 0 and 1.
MOODS = [lmdsl.Example(text=f"t{i}", label="positive" if i < 6 else "negative").with_inputs("text")
         for i in range(12)]


def biased_teacher(inputs):
    return {"label": "positive" if inputs["text"] in ("t0", "t1") else "negative"}


def test_balance_keeps_as_many_passing_runs_per_label_as_the_rarest_label_has(recorded):
    lmdsl.configure(lm=ScriptedLM(biased_teacher))
    optimizer = BootstrapFinetune(exact_match, finetuner="recording")
    optimizer.compile(Mood(), trainset=MOODS)
    replies = [ex["messages"][-1]["content"] for ex in recorded[0]["dataset"]]
    assert sorted(replies) == ["Label: negative"] * 2 + ["Label: positive"] * 2
    answers = optimizer.report.candidates[-1].details["answers"]
    assert answers["passed"] == {"label=positive": 2, "label=negative": 6}
    assert answers["kept"] == {"label=positive": 2, "label=negative": 2}


def test_balance_is_seeded_and_can_be_turned_off(recorded):
    lmdsl.configure(lm=ScriptedLM(biased_teacher))

    def users(**options):
        recorded.clear()
        BootstrapFinetune(exact_match, finetuner="recording", **options).compile(Mood(), trainset=MOODS)
        return [ex["messages"][-2]["content"] for ex in recorded[0]["dataset"]]

    assert users(seed=1) == users(seed=1)
    assert {tuple(users(seed=s)) for s in range(6)} != {tuple(users(seed=1))}  # the seed picks which rows
    assert len(users(balance=False)) == 8  # every passing run: 2 positive + 6 negative


def test_free_text_answers_are_not_balanced(recorded):
    lmdsl.configure(lm=ScriptedLM(scripted))
    optimizer = BootstrapFinetune(exact_match, finetuner="recording")
    optimizer.compile(TwoStep(), trainset=TRAIN)
    assert len(recorded[0]["dataset"]) == 2 * 4
    assert "kept" not in optimizer.answer_counts


def test_a_reused_optimizer_reports_only_its_latest_answer_counts(recorded):
    lmdsl.configure(lm=ScriptedLM(biased_teacher))
    optimizer = BootstrapFinetune(exact_match, finetuner="recording")
    optimizer.compile(Mood(), trainset=MOODS)
    assert optimizer.answer_counts["kept"]
    optimizer.balance = False
    optimizer.compile(Mood(), trainset=MOODS)
    assert optimizer.answer_counts == {}
