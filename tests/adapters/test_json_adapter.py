"""JSONAdapter: one JSON object per reply."""

from __future__ import annotations

import json

import pydantic
import pytest

import lmdsl
from lmdsl import Predict, signature
from lmdsl.adapters import JSONAdapter
from lmdsl.errors import ValueParseError

COT = signature("question -> reasoning, answer: int", instructions="Solve it.")
adapter = JSONAdapter()


class Person(pydantic.BaseModel):
    name: str
    age: int


def test_format():
    messages = adapter.format(COT, [{"question": "1+1?", "reasoning": "one and one", "answer": 2}], {"question": "2+2?"})
    assert messages[0]["content"].endswith(
        'Reply with one JSON object and nothing else, like this:\n{"reasoning": "<text>", "answer": "<an integer>"}'
    )
    assert messages[1:] == [
        {"role": "user", "content": "Question: 1+1?"},
        {"role": "assistant", "content": '{"reasoning": "one and one", "answer": 2}'},
        {"role": "user", "content": "Question: 2+2?"},
    ]


@pytest.mark.parametrize(
    "text",
    [
        '{"reasoning": "r", "answer": 4}',
        '{"reasoning": "r", "answer": "4"}',
        '```json\n{"reasoning": "r", "answer": 4}\n```',
        'Sure! {"reasoning": "r", "answer": 4} Hope that helps.',
    ],
)
def test_parse(text):
    assert adapter.parse(COT, text) == {"reasoning": "r", "answer": 4}


def test_non_string_values_for_text_fields_are_kept_as_text():
    assert adapter.parse(COT, '{"reasoning": 12, "answer": 4}') == {"reasoning": "12", "answer": 4}


def test_structured_output():
    sig = signature("text -> person: Person", types={"Person": Person})
    assert adapter.parse(sig, '{"person": {"name": "Ada", "age": 36}}') == {"person": Person(name="Ada", age=36)}


def test_errors():
    with pytest.raises(ValueParseError, match=r"^reply is not a JSON object \(no valid JSON found"):
        adapter.parse(COT, "the answer is 4")
    with pytest.raises(ValueParseError, match=r"^reply is JSON but not an object: '\[1, 2\]'$"):
        adapter.parse(COT, "[1, 2]")
    with pytest.raises(ValueParseError, match=r"^missing output field\(s\) 'Reasoning:' in reply '\{\"answer\": 4\}'$"):
        adapter.parse(COT, '{"answer": 4}')
    with pytest.raises(ValueParseError, match=r"^field 'answer': expected int, got 'lots' \(no number in it\)$"):
        adapter.parse(COT, '{"reasoning": "r", "answer": "lots"}')


def test_render_reply_round_trips():
    sig = signature("q -> items: list[int], ok: bool")
    outputs = {"items": [1, 2], "ok": False}
    assert json.loads(adapter.render_reply(sig, outputs)) == outputs
    assert adapter.parse(sig, adapter.render_reply(sig, outputs)) == outputs


def test_predict_with_json_adapter(scripted):
    lm = scripted([{"reasoning": "two plus two", "answer": 4}])
    pred = Predict(COT, adapter=JSONAdapter())(question="2+2?")
    assert (pred.reasoning, pred.answer) == ("two plus two", 4)
    assert lm.history[-1]["outputs"] == ['{"reasoning": "two plus two", "answer": 4}']


def test_json_adapter_from_settings(scripted):
    scripted([{"reasoning": "r", "answer": 1}])
    with lmdsl.context(adapter=JSONAdapter()):
        messages = Predict(COT).render(question="q")
        assert Predict(COT)(question="q").answer == 1
    assert "Reply with one JSON object" in messages[0]["content"]
    assert "Reply in exactly this format" in Predict(COT).render(question="q")[0]["content"]
