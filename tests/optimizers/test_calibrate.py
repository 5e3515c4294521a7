"""Calibrate: label biases fitted on the whole program's metric, from one LM pass over the trainset."""

from __future__ import annotations

from typing import Literal

import pytest
from tp_programs import Mood, mood

import lmdsl
from lmdsl.errors import ConfigError
from lmdsl.evaluate import exact_match
from lmdsl.optimizers import Calibrate, LabeledFewShot
from lmdsl.testing import ScriptedLM


def rows(n, start=0):
    return [lmdsl.Example(text=f"t{i}", label="positive" if i % 2 else "negative").with_inputs("text")
            for i in range(start, start + n)]


TRAIN, VAL = rows(12), rows(6, start=100)


class BiasedScorer:
    """Sees the truth (margin +-1 towards the gold label) but leans 2 nats towards "negative"."""

    def __init__(self):
        self.calls = 0

    def __call__(self, inputs, replies):
        self.calls += 1
        gold_positive = int(inputs["text"][1:]) % 2 == 1
        return [0.0, (1.0 if gold_positive else -1.0) - 2.0]


@pytest.fixture(autouse=True)
def _quiet():
    lmdsl.configure(display_progress=False)


def calibrate(**kwargs) -> Calibrate:
    optimizer = Calibrate(exact_match, **kwargs)
    optimizer.verbose = False
    return optimizer


def test_fits_a_bias_that_undoes_the_lean_with_one_lm_call_per_row():
    scorer = BiasedScorer()
    lmdsl.configure(lm=ScriptedLM([], scorer=scorer))  # cache off: the search must not call again
    program = Mood()
    program.classify.label_bias = {}
    assert lmdsl.Evaluate(VAL, exact_match)(program).score == 50.0  # always "negative"
    program.classify.label_bias = None
    scorer.calls = 0
    optimizer = calibrate()
    compiled = optimizer.compile(program, trainset=TRAIN)
    bias = compiled.classify.label_bias
    assert bias["negative"] == 0.0 and 1.0 < bias["positive"] < 3.0
    assert scorer.calls == len(TRAIN)
    assert lmdsl.Evaluate(VAL, exact_match)(compiled).score == 100.0
    details = optimizer.report.candidates[-1].details
    assert details["trainset_unbiased"] == 50.0 and details["trainset_calibrated"] == 100.0
    assert program.classify.label_bias is None  # the input program is untouched


def test_the_smallest_bias_wins_ties():
    lmdsl.configure(lm=ScriptedLM([], scorer=BiasedScorer()))
    compiled = calibrate(step=0.5).compile(Mood(), trainset=TRAIN)
    assert compiled.classify.label_bias["positive"] == 1.5  # 1.5, 2.0 and 2.5 all score 100


def test_a_single_bias_is_fitted_in_one_sweep(capsys):
    lmdsl.configure(lm=ScriptedLM([], scorer=BiasedScorer()))
    optimizer = Calibrate(exact_match, sweeps=3)
    optimizer.compile(Mood(), trainset=TRAIN)
    err = capsys.readouterr().err
    assert "[calibrate] sweep 1: trainset 100.0 with classify {negative: +0.00, positive: +1.25}" in err
    assert "sweep 2" not in err


def test_valset_scores_before_and_after_are_reported():
    lmdsl.configure(lm=ScriptedLM(lambda inputs: {"label": "negative"}, scorer=BiasedScorer()))
    optimizer = calibrate()
    optimizer.compile(Mood(), trainset=TRAIN, valset=VAL)
    before, after = optimizer.report.candidates
    assert (before.name, before.score) == ("as given", 50.0)  # generation, as the program was given
    assert (after.name, after.score) == ("calibrated", 100.0)
    assert optimizer.report.best_score == 100.0


@lmdsl.program
class Pipeline:
    """A label in the middle: the final answer is computed from it, so only the final metric exists."""

    def __init__(self):
        self.classify = lmdsl.Predict(mood)
        self.reply = lmdsl.Predict("mood -> answer")

    def forward(self, text):
        label = self.classify(text=text).label
        return self.reply(mood=label)


def test_an_intermediate_label_predictor_is_calibrated_from_the_final_metric():
    data = [lmdsl.Example(text=ex.text, answer="yay" if ex.label == "positive" else "boo").with_inputs("text")
            for ex in TRAIN]
    lm = ScriptedLM(lambda inputs: {"answer": "yay" if inputs["mood"] == "positive" else "boo"},
                    scorer=BiasedScorer())
    lmdsl.configure(lm=lm)
    optimizer = calibrate()
    compiled = optimizer.compile(Pipeline(), trainset=data)
    assert optimizer.report.candidates[-1].details["trainset_calibrated"] == 100.0
    assert compiled.reply.label_bias is None  # a free-text predictor keeps generating
    assert 1.0 < compiled.classify.label_bias["positive"] < 3.0


def test_demos_are_kept_and_shown_in_the_scoring_prompt():
    lm = ScriptedLM([], scorer=BiasedScorer())
    lmdsl.configure(lm=lm)
    few_shot = LabeledFewShot(k=2).compile(Mood(), trainset=TRAIN)
    compiled = calibrate().compile(few_shot, trainset=TRAIN)
    assert len(compiled.classify.demos) == 2
    assert sum(m["role"] == "assistant" for m in lm.requests[0]) == 2


def test_a_six_label_lean_is_undone_label_by_label():
    kinds = ["a", "b", "c", "d", "e", "f"]

    @lmdsl.signature
    def kind(text: str) -> Literal["a", "b", "c", "d", "e", "f"]:
        """Which kind.

        Returns:
            kind: the kind.
        """

    data = [lmdsl.Example(text=f"t{i}", kind=kinds[i % 6]).with_inputs("text") for i in range(24)]

    def scorer(inputs, replies):
        gold = int(inputs["text"][1:]) % 6
        return [(1.0 if j == gold else 0.0) + (3.0 if j == 0 else 0.0) for j in range(6)]  # leans to "a"

    lmdsl.configure(lm=ScriptedLM([], scorer=scorer))
    compiled = calibrate(sweeps=2).compile(lmdsl.Predict(kind), trainset=data)
    assert lmdsl.Evaluate(data, exact_match)(compiled).score == 100.0


def test_a_program_without_label_outputs_is_a_clear_error():
    lmdsl.configure(lm=ScriptedLM([]))
    with pytest.raises(ConfigError, match=r"no predictor has a single label output.*question: str -> answer: str"):
        calibrate().compile(lmdsl.Predict("question -> answer"), trainset=TRAIN)


@pytest.mark.parametrize("options", [{"max_bias": 0}, {"step": -1}, {"sweeps": 0}])
def test_bad_options(options):
    with pytest.raises(ValueError, match="calibrate:"):
        Calibrate(exact_match, **options)
