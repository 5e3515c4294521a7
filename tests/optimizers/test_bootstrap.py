"""BootstrapFewShot: demos only from passing traces, intermediate predictors get demos, the teacher
never sees an example's own labeled demo, limits, extra rounds, no mutation of the input."""

from __future__ import annotations

import pytest
from tp_programs import (
    PromptLM,
    QAProgram,
    TwoStep,
    demo_inputs,
    gold,
    number,
    right_on_even,
    rows,
)

from lmdsl import Example, Predict, program
from lmdsl.errors import ConfigError
from lmdsl.evaluate import MetricError, exact_match
from lmdsl.lm.cache import request_key
from lmdsl.optimizers import BootstrapFewShot, LabeledFewShot
from lmdsl.testing import ScriptedLM


def quiet(**kwargs) -> BootstrapFewShot:
    b = BootstrapFewShot(exact_match, **kwargs)
    b.verbose = False
    return b


@pytest.fixture(autouse=True)
def _no_progress():
    import lmdsl

    lmdsl.configure(display_progress=False)


def test_demos_come_only_from_passing_traces(scripted):
    scripted(right_on_even)
    compiled = quiet(max_bootstrapped_demos=10, max_labeled_demos=0).compile(QAProgram(), trainset=rows(8))
    demos = compiled.gen.demos
    assert [(d.question, d.answer) for d in demos] == [("q0", "a0"), ("q2", "a2"), ("q4", "a4"), ("q6", "a6")]
    assert all(d.augmented is True and d.input_keys == {"question"} for d in demos)


def test_labeled_demos_fill_up_from_rows_that_were_not_bootstrapped(scripted):
    scripted(right_on_even)
    b = quiet(max_bootstrapped_demos=2, max_labeled_demos=4)
    compiled = b.compile(QAProgram(), trainset=rows(8))
    demos = compiled.gen.demos
    assert [(d.question, d.answer) for d in demos[:2]] == [("q0", "a0"), ("q2", "a2")]
    assert all(d.get("augmented") for d in demos[:2])
    raw = demos[2:]
    assert len(raw) == 2 and not any(d.get("augmented") for d in raw)
    assert {d.question for d in raw}.isdisjoint({"q0", "q2"})
    # labeled rows carry the gold labels, never the model's wrong answers
    assert all(d.answer == f"a{number(d.question)}" for d in demos)
    assert b.stats == {"attempted": 3, "passed": 2, "errors": 0}


def test_bootstrapping_stops_once_enough_demos_are_found(scripted):
    lm = scripted(gold)
    quiet(max_bootstrapped_demos=2, max_labeled_demos=0).compile(QAProgram(), trainset=rows(10))
    assert len(lm.requests) == 2


@pytest.mark.parametrize(("max_boot", "max_labeled", "expected"), [(3, 5, (3, 2)), (3, 1, (3, 0)), (0, 2, (0, 2)),
                                                                     (2, 0, (2, 0))])
def test_max_bootstrapped_and_max_labeled_are_honoured(scripted, max_boot, max_labeled, expected):
    scripted(gold)
    compiled = quiet(max_bootstrapped_demos=max_boot, max_labeled_demos=max_labeled).compile(
        QAProgram(), trainset=rows(10))
    demos = compiled.gen.demos
    assert (sum(1 for d in demos if d.get("augmented")), sum(1 for d in demos if not d.get("augmented"))) == expected


def two_step_lm(inputs):
    if "query" in inputs:  # the answerer: right only for even questions, and only with the right query
        i = number(inputs["question"])
        ok = i % 2 == 0 and inputs["query"] == f"search {inputs['question']}"
        return {"answer": f"a{i}" if ok else "unknown"}
    return {"query": f"search {inputs['question']}"}


def test_intermediate_predictor_gets_demos_without_labels(scripted):
    scripted(two_step_lm)
    train = rows(6)
    assert all("query" not in r for r in train)  # nothing labels the intermediate step
    compiled = quiet(max_bootstrapped_demos=3, max_labeled_demos=0).compile(TwoStep(), trainset=train)
    write, answer = compiled.write.demos, compiled.answer.demos
    assert [d.to_dict() for d in write] == [
        {"question": f"q{i}", "query": f"search q{i}", "augmented": True} for i in (0, 2, 4)
    ]
    assert [d.to_dict() for d in answer] == [
        {"question": f"q{i}", "query": f"search q{i}", "answer": f"a{i}", "augmented": True} for i in (0, 2, 4)
    ]
    assert all(d.input_keys == {"question"} for d in write)
    assert all(d.input_keys == {"question", "query"} for d in answer)


def test_the_teacher_never_sees_an_examples_own_labeled_demo(scripted):
    lm = scripted(right_on_even)
    train = rows(6)
    quiet(max_bootstrapped_demos=6, max_labeled_demos=16).compile(QAProgram(), trainset=train)
    assert len(lm.requests) == 6
    for messages in lm.requests:
        question = messages[-1]["content"]
        shown = demo_inputs(messages)
        assert question not in shown, f"the teacher saw its own demo while answering {question!r}"
        assert sorted(shown) == sorted(f"Question: q{i}" for i in range(6) if f"Question: q{i}" != question)


def test_an_explicit_teacher_is_used_and_not_mutated(scripted):
    lm = scripted(right_on_even)
    teacher = LabeledFewShot(k=2, sample=False).compile(QAProgram(), trainset=rows(2, prefix="t"))
    compiled = quiet(max_bootstrapped_demos=1, max_labeled_demos=0, teacher=teacher).compile(
        QAProgram(), trainset=rows(4))
    assert demo_inputs(lm.requests[0]) == ["Question: t0", "Question: t1"]
    assert [d.question for d in compiled.gen.demos] == ["q0"]
    assert [d.question for d in teacher.gen.demos] == ["t0", "t1"]


def test_a_teacher_with_other_predictors_is_refused(scripted):
    scripted(gold)
    with pytest.raises(ConfigError, match=r"^bootstrap: teacher and student have different predictors "
                                          r"\(\['answer', 'write'\] vs \['gen'\]\)$"):
        quiet(teacher=TwoStep()).compile(QAProgram(), trainset=rows(2))


def test_max_rounds_retries_failures_with_a_different_rollout():
    seen = []

    def answer(inputs, messages, params):
        seen.append((inputs["question"], params.get("temperature"), params.get("rollout_id")))
        hot = params.get("temperature") == 1.0
        return gold(inputs) if hot or inputs["question"] == "q0" else {"answer": "cold"}

    lm = PromptLM(answer, cache=True)
    import lmdsl

    lmdsl.configure(lm=lm)
    b = quiet(max_bootstrapped_demos=4, max_labeled_demos=0, max_rounds=2)
    compiled = b.compile(QAProgram(), trainset=rows(3))
    assert [d.question for d in compiled.gen.demos] == ["q0", "q1", "q2"]
    assert seen == [("q0", 0.0, None), ("q1", 0.0, None), ("q2", 0.0, None), ("q1", 1.0, 1), ("q2", 1.0, 1)]
    # the second round is a different request: it misses the cache and reaches the model
    first, second = lm.calls[1], lm.calls[3]
    assert first[0] == second[0]  # same messages
    assert request_key(lm.model, *first) != request_key(lm.model, *second)
    assert b.report.usage["lm_calls"] == 5 and b.report.usage["cached_calls"] == 0


def test_max_rounds_also_rolls_out_predictors_with_their_own_lm():
    """A predictor with its own LM (and no configured one) is re-sampled too, instead of replaying round 1."""
    seen = []

    def answer(inputs, messages, params):
        seen.append(params.get("temperature"))
        return gold(inputs) if params.get("temperature") == 1.0 else {"answer": "cold"}

    student = QAProgram()
    student.set_lm(PromptLM(answer, cache=True))
    compiled = quiet(max_bootstrapped_demos=2, max_labeled_demos=0, max_rounds=2).compile(student, trainset=rows(2))
    assert seen == [0.0, 0.0, 1.0, 1.0]
    assert [d.question for d in compiled.gen.demos] == ["q0", "q1"]


def test_a_new_student_is_returned_and_the_input_is_untouched(scripted):
    scripted(gold)
    student = QAProgram()
    student.gen.demos = rows(1, prefix="old")
    train = rows(4)
    before = [(r.to_dict(), r.input_keys) for r in train]
    compiled = quiet(max_bootstrapped_demos=2, max_labeled_demos=3).compile(student, trainset=train)
    assert compiled is not student and compiled.gen is not student.gen
    assert [d.question for d in student.gen.demos] == ["old0"]
    assert "old0" not in [d.question for d in compiled.gen.demos]
    assert [(r.to_dict(), r.input_keys) for r in train] == before


def test_threads_bootstrap_the_same_demos_as_one(scripted):
    scripted(right_on_even)
    one = quiet(max_bootstrapped_demos=3, max_labeled_demos=5, num_threads=1).compile(QAProgram(), trainset=rows(12))
    four = quiet(max_bootstrapped_demos=3, max_labeled_demos=5, num_threads=4).compile(QAProgram(), trainset=rows(12))
    assert [d.to_dict() for d in four.gen.demos] == [d.to_dict() for d in one.gen.demos]


def test_metric_threshold(scripted):
    scripted(right_on_even)

    def half(example, prediction, trace=None):
        return 0.5 if number(example.question) < 2 else 1.0

    b = BootstrapFewShot(half, metric_threshold=0.75, max_bootstrapped_demos=5, max_labeled_demos=0)
    b.verbose = False
    assert [d.question for d in b.compile(QAProgram(), trainset=rows(5)).gen.demos] == ["q2", "q3", "q4"]


def test_the_metric_sees_the_trace(scripted):
    scripted(gold)
    traces = []

    def metric(example, prediction, trace=None):
        traces.append([(type(e.predictor).__name__, e.inputs) for e in trace])
        return True

    b = BootstrapFewShot(metric, max_bootstrapped_demos=1, max_labeled_demos=0)
    b.verbose = False
    b.compile(QAProgram(), trainset=rows(1))
    assert traces == [[("Predict", {"question": "q0"})]]


@program
class Fragile:
    def __init__(self):
        self.gen = Predict("question -> answer")

    def forward(self, question):
        if question.startswith("bad"):
            raise RuntimeError(f"cannot handle {question}")
        return self.gen(question=question)


def test_teacher_errors_are_skipped_then_budgeted_with_the_cause(scripted):
    scripted(gold)
    train = [Example(question="bad0", answer="x").with_inputs("question"), *rows(2)]
    b = quiet(max_bootstrapped_demos=4, max_labeled_demos=0)
    assert [d.question for d in b.compile(Fragile(), trainset=train).gen.demos] == ["q0", "q1"]
    assert b.stats["errors"] == 1
    many = [Example(question=f"bad{i}", answer="x").with_inputs("question") for i in range(5)]
    with pytest.raises(ConfigError, match=r"^bootstrap: more than 2 teacher runs raised; first error: "
                                          r"RuntimeError: cannot handle bad0"):
        quiet(max_errors=2, max_labeled_demos=0).compile(Fragile(), trainset=many)


def test_a_raising_metric_stops_bootstrapping_with_a_metric_error(scripted):
    lm = scripted(gold)

    def broken(example, prediction, trace=None):
        return prediction.label == example.answer

    b = BootstrapFewShot(broken, max_labeled_demos=0)
    b.verbose = False
    with pytest.raises(MetricError, match=r"^metric broken raised AttributeError: "):
        b.compile(QAProgram(), trainset=rows(5))
    assert len(lm.requests) == 1


def test_estimate_and_actual_calls_are_printed_on_stderr(scripted, capsys):
    scripted(gold)
    b = BootstrapFewShot(exact_match, max_bootstrapped_demos=2, max_labeled_demos=0)
    b.compile(QAProgram(), trainset=rows(4))
    out, err = capsys.readouterr()
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("[bootstrap]")]
    assert lines[0] == "[bootstrap] estimated about 4 LM calls (4 program runs x 1 predictor; cached answers cost none)"
    assert lines[-1].startswith("[bootstrap] done in ") and "2 LM calls (0 more answered from cache)" in lines[-1]
    assert b.report.estimated_calls == 4 and b.report.lm_calls == 2


def test_scripted_lm_on_a_predictor_is_used_without_configuration():
    student = QAProgram()
    student.set_lm(ScriptedLM(gold))
    compiled = quiet(max_bootstrapped_demos=1, max_labeled_demos=0).compile(student, trainset=rows(2))
    assert [d.question for d in compiled.gen.demos] == ["q0"]


def test_a_teacher_demo_of_the_same_question_with_extra_fields_is_hidden_too(scripted):
    lm = scripted(right_on_even)
    train = rows(4)
    teacher = QAProgram()
    # The teacher's demos are the trainset rows plus a field the rows lack: not equal, same question.
    teacher.gen.demos = [Example({**row.to_dict(), "note": "checked"}).with_inputs("question") for row in train]
    quiet(max_bootstrapped_demos=4, teacher=teacher).compile(QAProgram(), trainset=train)
    for messages in lm.requests:
        question = messages[-1]["content"]
        assert question not in demo_inputs(messages), f"the teacher saw its own demo while answering {question!r}"
        assert len(demo_inputs(messages)) == 3


def test_compile_takes_a_teacher_as_dspy_does(scripted):
    lm = scripted(right_on_even)
    teacher = LabeledFewShot(k=2, sample=False).compile(QAProgram(), trainset=rows(2, prefix="t"))
    compiled = quiet(max_bootstrapped_demos=1, max_labeled_demos=0).compile(
        QAProgram(), teacher=teacher, trainset=rows(4))
    assert demo_inputs(lm.requests[0]) == ["Question: t0", "Question: t1"]  # the teacher's demos were shown
    assert [d.question for d in compiled.gen.demos] == ["q0"]
    assert [d.question for d in teacher.gen.demos] == ["t0", "t1"]


def test_a_two_argument_metric_bootstraps(scripted):
    scripted(right_on_even)
    seen = []

    def metric(example, pred):  # DSPy's docs write metrics without the trace
        seen.append(example.question)
        return example.answer == pred.answer

    b = BootstrapFewShot(metric, max_bootstrapped_demos=2, max_labeled_demos=0)
    b.verbose = False
    compiled = b.compile(QAProgram(), trainset=rows(4))
    assert [d.question for d in compiled.gen.demos] == ["q0", "q2"]
    assert seen[:3] == ["q0", "q1", "q2"]
