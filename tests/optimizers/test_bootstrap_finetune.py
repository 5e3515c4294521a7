"""BootstrapFinetune with ScriptedLM and a recording finetuner (no training)."""

from __future__ import annotations

import json

import pytest
from tp_programs import Mood, PromptLM, demo_count

import lmdsl
from lmdsl.errors import ConfigError, LoadError
from lmdsl.evaluate import exact_match
from lmdsl.optimizers import BootstrapFinetune, LabeledFewShot
from lmdsl.plugins import plugin_manager
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


def test_cut_keeps_as_many_passing_runs_per_label_as_the_rarest_label_has(recorded):
    lmdsl.configure(lm=ScriptedLM(biased_teacher))
    optimizer = BootstrapFinetune(exact_match, finetuner="recording", balance="cut")
    optimizer.compile(Mood(), trainset=MOODS)
    replies = [ex["messages"][-1]["content"] for ex in recorded[0]["dataset"]]
    assert sorted(replies) == ["Label: negative"] * 2 + ["Label: positive"] * 2
    answers = optimizer.report.candidates[-1].details["answers"]
    assert answers["passed"] == {"label=positive": 2, "label=negative": 6}
    assert answers["kept"] == {"label=positive": 2, "label=negative": 2}


def test_oversampling_by_default_keeps_every_passing_run_and_repeats_the_rarer_label(recorded, capsys):
    lmdsl.configure(lm=ScriptedLM(biased_teacher))
    optimizer = BootstrapFinetune(exact_match, finetuner="recording")
    optimizer.compile(Mood(), trainset=MOODS)
    users = [ex["messages"][-2]["content"] for ex in recorded[0]["dataset"]]
    assert len(users) == 12  # 6 negative runs, and the 2 positive ones three times each
    assert {u: users.count(u) for u in users if users.count(u) > 1} == {"Text: t0": 3, "Text: t1": 3}
    assert sorted(set(users)) == sorted(f"Text: t{i}" for i in (0, 1, 6, 7, 8, 9, 10, 11))  # nothing dropped
    answers = optimizer.report.candidates[-1].details["answers"]
    assert answers == {"passed": {"label=positive": 2, "label=negative": 6},
                       "kept": {"label=positive": 6, "label=negative": 6}}
    assert "{'label=positive': 2, 'label=negative': 6} -> training runs" in capsys.readouterr().err


def four_positive(inputs):
    return {"label": "positive" if inputs["text"] in ("t0", "t1", "t2", "t3") else "negative"}


def test_oversampling_tops_up_with_a_seeded_sample_of_the_rarer_label(recorded):
    lmdsl.configure(lm=ScriptedLM(four_positive))

    def repeated(**options):
        recorded.clear()
        BootstrapFinetune(exact_match, finetuner="recording", **options).compile(Mood(), trainset=MOODS)
        users = [ex["messages"][-2]["content"] for ex in recorded[0]["dataset"]]
        assert len(users) == 12  # 4 positive + 6 negative passing runs, 2 positive ones repeated
        return tuple(sorted(u for u in set(users) if users.count(u) == 2))

    assert len(repeated(seed=1)) == 2 and repeated(seed=1) == repeated(seed=1)
    assert len({repeated(seed=s) for s in range(6)}) > 1  # the seed picks which runs are repeated


def test_balance_cut_is_seeded_and_balancing_can_be_turned_off(recorded):
    lmdsl.configure(lm=ScriptedLM(biased_teacher))

    def users(**options):
        recorded.clear()
        BootstrapFinetune(exact_match, finetuner="recording", **options).compile(Mood(), trainset=MOODS)
        return [ex["messages"][-2]["content"] for ex in recorded[0]["dataset"]]

    assert users(seed=1, balance="cut") == users(seed=1, balance="cut")
    assert {tuple(users(seed=s, balance="cut")) for s in range(6)} != {tuple(users(seed=1, balance="cut"))}
    assert len(users(balance="none")) == len(users(balance=False)) == 8  # every passing run: 2 + 6


def test_an_unknown_balance_mode_is_refused():
    with pytest.raises(ValueError, match="balance must be one of 'oversample', 'cut', 'none'"):
        BootstrapFinetune(exact_match, balance="undersample")


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
    assert optimizer.answer_counts["kept"] == {"label=positive": 6, "label=negative": 6}
    lmdsl.configure(lm=ScriptedLM(four_positive))
    optimizer.compile(Mood(), trainset=MOODS)
    assert optimizer.answer_counts["passed"] == {"label=positive": 4, "label=negative": 6}
    lmdsl.configure(lm=ScriptedLM(scripted))
    optimizer.compile(TwoStep(), trainset=TRAIN)
    assert optimizer.answer_counts == {}  # free-text answers: nothing counted


# ---- teachers ----------------------------------------------------------------------------

def test_a_compiled_file_teacher_is_loaded_into_a_copy_of_the_program(recorded, tmp_path):
    lmdsl.configure(lm=ScriptedLM(biased_teacher))
    teacher_file = LabeledFewShot(k=2).compile(Mood(), trainset=MOODS).save(tmp_path / "fewshot.json")
    lm = PromptLM(lambda inputs, messages, params: biased_teacher(inputs))
    lmdsl.configure(lm=lm)
    program = Mood()
    student = BootstrapFinetune(exact_match, finetuner="recording", teacher=str(teacher_file)).compile(
        program, trainset=MOODS)
    assert len(lm.calls) == 12 and all(demo_count(messages) >= 1 for messages, _ in lm.calls)  # the file taught
    assert all(ex["messages"][0]["role"] == "system" and len(ex["messages"]) == 3 for ex in recorded[0]["dataset"])
    assert all(len(p.demos) == 0 for p in student.predictors())  # the student learns without demos
    assert all(len(p.demos) == 0 for p in program.predictors())  # the program given is untouched


def test_a_missing_teacher_file_fails_when_the_optimizer_is_built(tmp_path):
    with pytest.raises(LoadError, match=r"bootstrap-finetune: teacher file .*nope.json: no such file"):
        BootstrapFinetune(exact_match, finetuner="recording", teacher=str(tmp_path / "nope.json"))


def test_a_teacher_file_of_another_program_fails_before_any_lm_call_or_training(recorded, tmp_path):
    lmdsl.configure(lm=ScriptedLM(scripted))
    other = TwoStep().save(tmp_path / "twostep.json", target="pipeline.py:TwoStep")
    calls = []
    lmdsl.configure(lm=ScriptedLM(lambda inputs: calls.append(inputs) or {"label": "positive"}))
    optimizer = BootstrapFinetune(exact_match, finetuner="recording", teacher=other)
    with pytest.raises(LoadError, match=r"teacher file .*twostep.json \(compiled for pipeline.py:TwoStep\) does not "
                                        r"fit the program Mood.*predictors do not match"):
        optimizer.compile(Mood(), trainset=MOODS)
    assert calls == [] and recorded == []


# ---- the default teacher: calibrated when the program is not compiled ------------------

def leaning_scorer(inputs, replies):
    """A model that leans "negative" but still ranks the right label higher than it ranks it elsewhere:
    argmax says negative to every row, a +1 bias on positive gets every row right."""
    positive_row = int(inputs["text"][1:]) < 6
    return [-1.5 if positive_row else -3.0 if "positive" in r else (-1.0 if positive_row else 0.0) for r in replies]


def leaning_generation(inputs):
    return {"label": "negative"}  # what the model writes when asked (no scoring)


def test_the_default_teacher_is_the_program_calibrated_on_the_trainset(recorded, capsys):
    lm = ScriptedLM(leaning_generation, scorer=leaning_scorer)
    lmdsl.configure(lm=lm)
    optimizer = BootstrapFinetune(exact_match, finetuner="recording")
    optimizer.compile(Mood(), trainset=MOODS)
    assert optimizer.answer_counts["passed"] == {"label=positive": 6, "label=negative": 6}  # zero-shot: 0 / 6
    assert "teacher: the program calibrated on the 12 train rows" in capsys.readouterr().err


def test_teacher_none_or_program_keeps_the_program_as_given(recorded):
    for teacher in (None, "program"):
        lmdsl.configure(lm=ScriptedLM(leaning_generation, scorer=leaning_scorer))
        optimizer = BootstrapFinetune(exact_match, finetuner="recording", teacher=teacher)
        with pytest.raises(ConfigError, match="no teacher run passed"):  # only "negative" runs: 6 pass
            optimizer.compile(Mood(), trainset=[r for r in MOODS if r.label == "positive"])
        optimizer.compile(Mood(), trainset=MOODS)
        assert optimizer.answer_counts["passed"] == {"label=negative": 6}


def test_the_default_teacher_keeps_a_compiled_program_as_it_is(recorded, capsys):
    lm = ScriptedLM(leaning_generation, scorer=leaning_scorer)
    lmdsl.configure(lm=lm)
    compiled = LabeledFewShot(k=2).compile(Mood(), trainset=MOODS)
    BootstrapFinetune(exact_match, finetuner="recording").compile(compiled, trainset=MOODS)
    assert "teacher: the program as given (already compiled)" in capsys.readouterr().err
    assert all("score_replies" not in entry["params"] for entry in lm.history)  # nothing was scored


def test_teacher_calibrate_on_an_lm_that_cannot_score_is_a_clear_error_before_training(recorded):
    class NoScores(ScriptedLM):
        def _score(self, messages, replies):
            raise lmdsl.errors.LMError("scripted/lm: cannot score")

    lmdsl.configure(lm=NoScores(biased_teacher))
    with pytest.raises(ConfigError, match=r"teacher='calibrate' failed: .*cannot score"):
        BootstrapFinetune(exact_match, finetuner="recording", teacher="calibrate").compile(Mood(), trainset=MOODS)
    assert recorded == []
    optimizer = BootstrapFinetune(exact_match, finetuner="recording")  # auto: falls back to the program
    optimizer.compile(Mood(), trainset=MOODS)
    assert optimizer.answer_counts["passed"] == {"label=positive": 2, "label=negative": 6}


@pytest.mark.parametrize(("in_process", "pinned"), [(True, True), (False, False)])
def test_the_tuned_model_is_pinned_when_its_provider_runs_in_process(tmp_path, in_process, pinned):
    from lmdsl.lm.providers import Provider

    model = tmp_path / "tuned.gguf"
    model.write_bytes(b"GGUF fake weights")
    prefix = f"tuned-{'in' if in_process else 'out'}-process"  # not local/: the capability decides
    plugin_manager().registry("lms").register(prefix, Provider(in_process=in_process), "tests")
    plugin_manager().registry("finetuners").register("file", lambda dataset, base, **o: f"{prefix}/{model}", "tests")
    lmdsl.configure(lm=ScriptedLM(scripted))
    student = BootstrapFinetune(exact_match, finetuner="file").compile(TwoStep(), trainset=TRAIN)
    state = json.loads(student.save(tmp_path / "program.json").read_text())
    assert bool(state["predictors"]["answer"]["lm"].get("model_sha256")) is pinned
