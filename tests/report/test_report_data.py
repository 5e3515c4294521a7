"""What the report gathers: label fields, confusion matrices, per-label accuracy, changed rows, plots."""

from __future__ import annotations

import re
from typing import Literal

import pytest

import lmdsl
from lmdsl import Example, Prediction
from lmdsl.evaluate import EvalRow
from lmdsl.report import compile_report, evaluation_report, write_report
from lmdsl.report.data import ERROR_LABEL, OTHER_LABEL, breakdown, changed_rows, label_fields

pytest.importorskip("matplotlib")


@lmdsl.signature
def mood(text: str) -> Literal["sad", "happy", "calm"]:
    """Say the mood."""


@lmdsl.program
class Mood:
    def __init__(self):
        self.say = lmdsl.Predict(mood)

    def forward(self, text):
        return self.say(text=text)


def row(gold, predicted, error=None):
    example = Example(text=f"t-{gold}", output=gold).with_inputs("text")
    prediction = None if predicted is None else Prediction(output=predicted)
    return EvalRow(example, prediction, float(gold == predicted), error)


ROWS = [row("sad", "sad"), row("sad", "happy"), row("happy", "happy"), row("happy", "angry"),
        row("happy", None, error="ParseError: no label")]


def test_declared_labels_keep_their_order_and_odd_predictions_are_bucketed():
    fields = label_fields(Mood(), ROWS)
    assert fields == {"output": ["sad", "happy", "calm"]}
    b = breakdown(ROWS, "output", fields["output"])
    assert b.labels == ["sad", "happy", "calm"]  # calm has no rows but is a declared label
    assert b.columns == ["sad", "happy", "calm", OTHER_LABEL, ERROR_LABEL]
    assert b.matrix == [[1, 1, 0, 0, 0], [0, 1, 0, 1, 1], [0, 0, 0, 0, 0]]
    assert b.accuracy() == {"sad": 50.0, "happy": 33.3, "calm": None}


def test_free_text_fields_with_few_values_count_as_labels_and_long_answers_do_not():
    few = [row("yes", "yes"), row("no", "yes")] * 3
    assert label_fields(None, few) == {"output": None}
    for r in few:
        r.example = Example(r.example, code="Y").with_inputs("text")  # a gold field the program never outputs
    assert label_fields(None, few) == {"output": None}
    many = [row(f"answer {i}", "x") for i in range(20)]
    assert label_fields(None, many) == {}


def test_changed_rows_both_ways():
    before = [row("sad", "happy"), row("happy", "happy"), row("calm", "calm")]
    after = [row("sad", "sad"), row("happy", "sad"), row("calm", "calm")]
    up, down = changed_rows(before, after)
    assert [(r.index, r.before, r.after) for r in up] == [(0, {"output": "happy"}, {"output": "sad"})]
    assert [(r.index, r.before_score, r.after_score) for r in down] == [(1, 1.0, 0.0)]


class Result:
    def __init__(self, rows):
        self.results = rows
        self.score = round(100 * sum(r.score for r in rows) / len(rows), 2)
        self.n, self.errors, self.usage, self.wall_time = len(rows), 1, {"lm_calls": 5}, 1.5


def test_pages_are_self_contained_and_plots_have_unique_ids(tmp_path):
    before = Result([row("sad", "happy"), row("happy", "happy")])
    after = Result([row("sad", "sad"), row("happy", "happy")])
    data = compile_report(target="m.py:Mood", optimizer="random-search", baseline=before, final=after,
                          program=Mood(), phases=[{"name": "baseline", "depth": 0, "parent": None, "attributes": {},
                                                   "usage": {"lm_calls": 2}, "wall_time": 0.5, "error": None}])
    html = write_report(data, tmp_path / "r.html").read_text()
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert ids and len(ids) == len(set(ids))  # several SVGs on one page never share an id
    assert "wrong → right (1)" in html and "right → wrong (0)" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//|@import|url\((?!#)""", html)
    page = evaluation_report(target="m.py:Mood", result=after, program=Mood())
    assert "<svg" in write_report(page, tmp_path / "e.html").read_text()
