"""LabeledFewShot: k training rows as demos, seeded, no LM calls, input untouched."""

from __future__ import annotations

import pytest
from tp_programs import QAProgram, TwoStep, rows

from lmdsl.errors import ConfigError
from lmdsl.optimizers import LabeledFewShot


def test_k_demos_from_the_trainset_for_every_predictor():
    train = rows(10)
    compiled = LabeledFewShot(k=3).compile(TwoStep(), trainset=train)
    for _, predictor in compiled.named_predictors():
        assert len(predictor.demos) == 3
        assert all(d in train for d in predictor.demos)
        assert len({d.question for d in predictor.demos}) == 3


def test_seeded_sampling_is_deterministic_and_depends_on_the_seed():
    train = rows(20)

    def demos(seed):
        return [d.question for d in LabeledFewShot(k=4, seed=seed).compile(QAProgram(), trainset=train).gen.demos]

    assert demos(0) == demos(0)
    assert demos(1) == demos(1)
    assert demos(0) != demos(1)


def test_sample_false_takes_the_first_k_and_k_is_capped():
    assert [d.question for d in LabeledFewShot(k=2, sample=False).compile(QAProgram(), trainset=rows(5)).gen.demos] \
        == ["q0", "q1"]
    assert len(LabeledFewShot(k=16).compile(QAProgram(), trainset=rows(3)).gen.demos) == 3


def test_input_program_and_trainset_are_not_mutated_and_no_lm_is_called(scripted):
    lm = scripted([])
    student = QAProgram()
    train = rows(5)
    before = [r.to_dict() for r in train]
    compiled = LabeledFewShot(k=2).compile(student, trainset=train)
    assert compiled is not student and compiled.gen is not student.gen
    assert student.gen.demos == [] and len(compiled.gen.demos) == 2
    assert [r.to_dict() for r in train] == before and len(train) == 5
    assert lm.requests == []


def test_previous_demos_are_replaced_not_extended():
    student = QAProgram()
    student.gen.demos = rows(2, prefix="old")
    compiled = LabeledFewShot(k=1, sample=False).compile(student, trainset=rows(3))
    assert [d.question for d in compiled.gen.demos] == ["q0"]
    assert [d.question for d in student.gen.demos] == ["old0", "old1"]


def test_bad_trainsets_are_refused():
    with pytest.raises(ConfigError, match=r"^labeled-few-shot: the trainset is empty$"):
        LabeledFewShot(k=2).compile(QAProgram(), trainset=[])
    from lmdsl import Example

    with pytest.raises(ConfigError, match=r"^labeled-few-shot: trainset row 1 is not an Example with inputs marked"):
        LabeledFewShot(k=2).compile(QAProgram(), trainset=[*rows(1), Example(question="q", answer="a")])
