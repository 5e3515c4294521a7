"""GEPA mechanism tests with scripted LMs: outcomes known in advance."""

from __future__ import annotations

import random

import click
import pytest

import lmdsl
from lmdsl.cli.options import check_options
from lmdsl.evaluate import Feedback, exact_match
from lmdsl.lm.request import current_call
from lmdsl.plugins import plugin_manager
from lmdsl.testing import ScriptedLM
from lmdsl_gepa import GEPA
from lmdsl_gepa import plugin as gepa_plugin
from lmdsl_gepa.pareto import best_mean, frontier, select_parent

GOOD = "Say positive when the sentence praises the film."
POSITIVE = {"great", "lovely", "superb", "fine"}


@lmdsl.program
class Sentiment:
    def __init__(self):
        self.classify = lmdsl.Predict("text -> label: Literal['negative', 'positive']")

    def forward(self, text):
        return self.classify(text=text)


WORDS = ["great", "awful", "lovely", "dull", "superb", "bad", "fine", "boring"]
ROWS = [lmdsl.Example(text=w, label="positive" if w in POSITIVE else "negative").with_inputs("text") for w in WORDS]


def sentiment_task(inputs):
    """Right only under GOOD; under any other instruction it says 'positive' (50 %)."""
    right = current_call.get().signature.instructions == GOOD
    gold = "positive" if inputs["text"] in POSITIVE else "negative"
    return {"label": gold if right else "positive"}


def reflector(instructions, **kwargs):
    queue = list(instructions)
    return ScriptedLM(lambda inputs: {"new_instruction": queue.pop(0) if queue else "Guess."}, **kwargs)


def test_gepa_finds_the_one_instruction_the_task_lm_answers_under():
    lmdsl.configure(lm=ScriptedLM(sentiment_task))
    gepa = GEPA(exact_match, reflection_lm=reflector(["Be vague.", GOOD]), max_metric_calls=60,
                reflection_minibatch_size=4)
    program = Sentiment()
    compiled = gepa.compile(program, trainset=ROWS, valset=ROWS)
    assert compiled.classify.signature.instructions == GOOD
    assert program.classify.signature.instructions != GOOD
    outcomes = [(h.get("proposal"), h["outcome"]) for h in gepa.history
                if h["kind"] == "reflect" and not h["outcome"].startswith("skipped")]  # all-positive minibatches
    assert outcomes[:2] == [("Be vague.", "rejected"), (GOOD, "accepted")]  # kept only when the minibatch improves
    assert gepa.report.best_score == 100.0
    assert gepa.metric_calls <= 60


def test_feedback_text_and_the_step_trace_reach_the_reflection_prompt():
    lmdsl.configure(lm=ScriptedLM(sentiment_task))

    def explained(example, prediction, trace=None):
        if prediction.label == example.label:
            return Feedback(1.0, "right")
        return Feedback(0.0, f"wrong: '{example.text}' is a {example.label} word, not {prediction.label}")

    reflection_lm = reflector([GOOD])
    GEPA(explained, reflection_lm=reflection_lm, max_metric_calls=40, reflection_minibatch_size=4,
         seed=1).compile(Sentiment(), trainset=ROWS, valset=ROWS)
    prompt = reflection_lm.requests[0][-1]["content"]
    assert "is a negative word, not positive" in prompt  # the metric's own words
    assert "label: positive" in prompt  # what the step produced
    assert "text: " in prompt  # and what it was given


def test_a_plain_number_metric_shows_the_score_and_the_expected_output():
    lmdsl.configure(lm=ScriptedLM(sentiment_task))
    reflection_lm = reflector([GOOD])
    GEPA(exact_match, reflection_lm=reflection_lm, max_metric_calls=40, reflection_minibatch_size=4,
         seed=1).compile(Sentiment(), trainset=ROWS, valset=ROWS)
    prompt = reflection_lm.requests[0][-1]["content"]
    assert "Feedback: score 0; expected label: negative" in prompt


def test_the_frontier_keeps_a_specialist_with_a_lower_mean():
    scores = [
        [1, 1, 1, 1, 0, 0],  # A: the best mean
        [0, 0, 0, 0, 1, 1],  # B: lower mean, but the only one right on the last two rows
        [1, 1, 1, 0, 0, 0],  # C: never better than A anywhere: dominated
        [1, 1, 1, 1, 0, 0],  # D: A's twin, younger: dropped
    ]
    assert frontier(scores) == {0: 4, 1: 2}
    assert best_mean(scores) == 0
    rng = random.Random(0)
    drawn = [select_parent(scores, rng) for _ in range(600)]
    assert set(drawn) == {0, 1}
    assert 150 < drawn.count(1) < 250  # in proportion to the rows each is best on (2 of 6)


@lmdsl.program
class TwoSteps:
    def __init__(self):
        self.first = lmdsl.Predict("text -> a")
        self.second = lmdsl.Predict("text -> b")

    def forward(self, text):
        return lmdsl.Prediction(a=self.first(text=text).a, b=self.second(text=text).b)


SPLIT_ROWS = [lmdsl.Example(text=f"r{i}", a=f"A{i}", b=f"B{i}").with_inputs("text") for i in range(8)]


def split_metric(example, prediction, trace=None):
    """Rows 0-3 need step 'first' right, rows 4-7 need step 'second' right."""
    row = int(example.text[1:])
    return prediction.a == example.a if row < 4 else prediction.b == example.b


def fixable_task(inputs):
    call = current_call.get()
    field = next(iter(call.signature.outputs))
    right = call.signature.instructions == f"fix {field}"
    return {field: f"{field.upper()}{inputs['text'][1:]}" if right else "wrong"}


def test_merge_combines_candidates_that_improved_different_predictors():
    lmdsl.configure(lm=ScriptedLM(fixable_task))
    gepa = GEPA(split_metric, max_metric_calls=100, reflection_minibatch_size=2)
    gepa.compile(TwoSteps(), trainset=SPLIT_ROWS[:2], valset=SPLIT_ROWS)  # seeds the state: candidate 0
    original = dict(gepa.pool[0])
    gepa.pool = [original, {**original, "first": "fix a"}, {**original, "second": "fix b"}]
    gepa.parents = [(), (0,), (0,)]
    gepa.val_scores = [[0.0] * 8, [1.0] * 4 + [0.0] * 4, [0.0] * 4 + [1.0] * 4]
    assert sorted(frontier(gepa.val_scores)) == [1, 2]
    i, j, ancestor, merged = gepa.find_merge(set())
    assert ({i, j}, ancestor) == ({1, 2}, 0)
    assert merged == {"first": "fix a", "second": "fix b"}
    assert gepa._merge(SPLIT_ROWS, set(), iteration=99)
    assert gepa.pool[-1] == merged and gepa.parents[-1] in ((1, 2), (2, 1))
    assert gepa.val_scores[-1] == [1.0] * 8
    assert frontier(gepa.val_scores) == {3: 8}


def test_budget_is_never_exceeded_and_every_metric_call_is_counted():
    lmdsl.configure(lm=ScriptedLM(sentiment_task))
    calls = []

    def counted(example, prediction, trace=None):
        calls.append(1)
        return exact_match(example, prediction, trace)

    gepa = GEPA(counted, reflection_lm=reflector(["A.", "B.", "C.", "D.", "E."]), max_metric_calls=50,
                reflection_minibatch_size=3)
    gepa.compile(Sentiment(), trainset=ROWS, valset=ROWS)
    assert len(calls) == gepa.metric_calls <= 50
    assert gepa.metric_calls > 50 - (2 * 3 + len(ROWS))  # the budget was used, bar the last step


def test_a_rerun_resumes_from_the_cache():
    task_lm = ScriptedLM(sentiment_task, cache=True)
    lmdsl.configure(lm=task_lm)
    first = GEPA(exact_match, reflection_lm=reflector(["Be vague.", GOOD], cache=True), max_metric_calls=60,
                 reflection_minibatch_size=4)
    first.compile(Sentiment(), trainset=ROWS, valset=ROWS)
    second = GEPA(exact_match, reflection_lm=reflector([], cache=True), max_metric_calls=60,
                  reflection_minibatch_size=4)
    compiled = second.compile(Sentiment(), trainset=ROWS, valset=ROWS)
    assert first.report.lm_calls > 0 and second.report.lm_calls == 0
    assert compiled.classify.signature.instructions == GOOD


def test_bad_options_fail_before_any_lm_call():
    with pytest.raises(ValueError, match="not both"):
        GEPA(exact_match, max_metric_calls=10, auto="light")
    with pytest.raises(ValueError, match="reflection_lm"):
        GEPA(exact_match, reflection_lm="nope")
    with pytest.raises(ValueError, match="reflection_minibatch_size"):
        GEPA(exact_match, reflection_minibatch_size=0)
    with pytest.raises(click.UsageError, match="candidate_selection"):
        check_options(GEPA, {"candidate_selection": "random"}, "optimizer 'gepa'")
    with pytest.raises(lmdsl.ConfigError, match="give at least 22"):
        GEPA(exact_match, max_metric_calls=10, reflection_minibatch_size=3).compile(
            Sentiment(), trainset=ROWS, valset=ROWS)
    options = check_options(GEPA, {"reflection_lm": "local/smollm2", "max_metric_calls": 30}, "optimizer 'gepa'")
    assert GEPA(exact_match, **options).reflection_lm.model == "local/smollm2"


def test_registers_as_gepa_through_the_public_hook():
    manager = plugin_manager()
    manager.add(gepa_plugin, "gepa", distribution="lmdsl-gepa")
    assert lmdsl.get_teleprompter("gepa") is GEPA
    info = next(i for i in manager.plugins() if i.name == "gepa")
    assert info.registered["teleprompters"] == ["gepa"]
