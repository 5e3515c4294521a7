"""Evaluation results you can keep: per-row calls/tokens/latency, to_table, to_pandas, JSONL/CSV round trip."""

from __future__ import annotations

import json

import pytest

import lmdsl
from lmdsl import Example, Predict, program
from lmdsl.errors import ConfigError
from lmdsl.evaluate import Evaluate, exact_match
from lmdsl.evaluate.export import read_results

QA = lmdsl.signature("question, tags: list[str] -> answer")


@program
class Tagged:
    def __init__(self):
        self.gen = Predict(QA)

    def forward(self, question, tags):
        if question == "boom":
            raise RuntimeError("no answer for boom")
        return self.gen(question=question, tags=tags)


def devset():
    rows = [Example(question=f"q{i}", tags=["x", f"t{i}"], answer=f"a{i}") for i in range(3)]
    rows.append(Example(question="boom", tags=[], answer="a3"))
    return [r.with_inputs("question", "tags") for r in rows]


@pytest.fixture
def result(scripted):
    scripted(lambda inputs: {"answer": "a0" if inputs["question"] == "q0" else "wrong, sorry"})
    return Evaluate(devset(), exact_match, display_progress=False)(Tagged())


def test_rows_carry_calls_tokens_and_latency(result):
    ok, _, _, boom = result.results
    assert ok.calls == 1 and ok.tokens > 0 and ok.latency > 0
    assert boom.calls == 0 and boom.tokens == 0 and "no answer for boom" in boom.error


def test_to_table_is_flat(result):
    table = result.to_table()
    assert [row["index"] for row in table] == [0, 1, 2, 3]
    first = table[0]
    assert first["input.question"] == "q0" and first["input.tags"] == ["x", "t0"]
    assert first["output.answer"] == "a0" and first["gold.answer"] == "a0" and first["score"] == 1.0
    assert table[3]["error"].startswith("RuntimeError: no answer for boom") and "output.answer" not in table[3]


def test_to_pandas(result):
    pd = pytest.importorskip("pandas")
    frame = result.to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 4
    assert frame["score"].sum() == 1.0 and list(frame["input.question"]) == ["q0", "q1", "q2", "boom"]


def test_jsonl_round_trip_keeps_types(result, tmp_path):
    path = result.write(tmp_path / "results.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["inputs"] == {"question": "q0", "tags": ["x", "t0"]} and lines[0]["outputs"] == {"answer": "a0"}
    assert read_results(path) == result.to_table()


def test_csv_round_trip(result, tmp_path):
    path = result.write(tmp_path / "results.csv")
    back = read_results(path)
    table = result.to_table()
    assert [r["score"] for r in back] == [r["score"] for r in table]
    assert [r["calls"] for r in back] == [r["calls"] for r in table]
    assert back[1]["output.answer"] == "wrong, sorry"  # quoted by the csv module, read back whole
    assert json.loads(back[0]["input.tags"]) == ["x", "t0"]  # lists are JSON in a CSV cell
    assert back[3]["error"] == table[3]["error"] and back[0]["error"] is None


def test_other_suffixes_are_refused(result, tmp_path):
    with pytest.raises(ConfigError, match=r"\.jsonl or \.csv"):
        result.write(tmp_path / "results.xlsx")
