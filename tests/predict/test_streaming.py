"""lmdsl.stream: field chunks as the LM writes, then the Prediction; hosted (litellm, loopback
server), cached, test doubles, JSON replies, sync and async; the field splitter on its own."""

from __future__ import annotations

import asyncio

import pytest

import lmdsl
from lmdsl import ChainOfThought, Predict, Prediction, StreamChunk, program
from lmdsl.adapters import ChatAdapter, JSONAdapter
from lmdsl.predict.streaming import FieldSplitter
from lmdsl.signatures import as_signature
from lmdsl.testing_server import serve, stub_lm

COT = as_signature("question -> reasoning, answer: int")


def split(text: str, pieces: int, adapter=None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    splitter = FieldSplitter(COT, adapter or ChatAdapter(), lambda f, t: out.append((f, t)))
    size = max(1, len(text) // pieces)
    for i in range(0, len(text), size):
        splitter.feed(text[i:i + size])
    splitter.close()
    return out


def joined(chunks: list[tuple[str, str]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for field, text in chunks:
        fields[field] = fields.get(field, "") + text
    return fields


@pytest.mark.parametrize("pieces", [1, 3, 17, 1000])
def test_splitter_gives_each_field_its_text_however_the_reply_is_cut(pieces):
    text = "Reasoning: two and two\nmake four.\nAnswer: 4"
    chunks = split(text, pieces)
    assert joined(chunks) == {"reasoning": "two and two\nmake four.", "answer": "4"}
    if pieces >= 17:
        assert len([c for c in chunks if c[0] == "reasoning"]) > 1  # really incremental
    assert [f for f, _ in chunks] == sorted((f for f, _ in chunks), key=["reasoning", "answer"].index)


def test_splitter_never_leaks_a_marker_into_the_previous_field():
    text = "Reasoning: short\nAnswer: 4"
    for pieces in range(1, len(text) + 1):
        assert joined(split(text, pieces))["reasoning"] == "short", pieces


def test_splitter_gives_unlabelled_leading_text_to_the_first_field():
    assert joined(split("It is four.\nAnswer: 4", 30)) == {"reasoning": "It is four.", "answer": "4"}


def test_splitter_for_json_replies_sends_each_field_once_complete():
    chunks = split('{"reasoning": "r", "answer": 4}', 10, JSONAdapter())
    assert chunks == [("reasoning", "r"), ("answer", "4")]


@pytest.fixture(scope="module")
def stub():
    with serve(delay=0.0) as base:
        yield base


@program
class TwoSteps:
    def __init__(self):
        self.draft = Predict("question -> draft")
        self.final = ChainOfThought("question, draft -> answer: int")

    def forward(self, question):
        return self.final(question=question, draft=self.draft(question=question).draft)

    async def aforward(self, question):
        draft = (await self.draft.acall(question=question)).draft
        return await self.final.acall(question=question, draft=draft)


def _check_run(items):
    assert isinstance(items[-1], Prediction) and items[-1].answer == 42
    chunks = items[:-1]
    assert all(isinstance(c, StreamChunk) for c in chunks)
    assert chunks[0].predictor == "draft" and chunks[-1].predictor == "final"
    by_field = {}
    for c in chunks:
        by_field.setdefault((c.predictor, c.field), []).append(c.text)
    assert "".join(by_field[("final", "answer")]) == "42"
    assert "".join(by_field[("final", "reasoning")]) == items[-1].reasoning
    assert len(by_field[("draft", "draft")]) > 1  # several pieces: the server streamed 4 characters at a time
    return by_field


def test_stream_a_program_against_a_streaming_server(stub):
    lmdsl.configure(lm=stub_lm(stub, cache=False))
    _check_run(list(lmdsl.stream(TwoSteps())(question="What is six times seven?")))


def test_async_stream_against_a_streaming_server(stub):
    lmdsl.configure(lm=stub_lm(stub, cache=False))

    async def main():
        return [item async for item in lmdsl.stream(TwoSteps())(question="What is six times seven?")]

    _check_run(asyncio.run(main()))


def test_a_cached_reply_streams_as_one_piece_per_field(stub):
    lmdsl.configure(lm=stub_lm(stub, cache=True))
    cot = ChainOfThought("question -> answer: int")
    first = list(lmdsl.stream(cot)(question="cached?"))
    again = list(lmdsl.stream(cot)(question="cached?"))
    assert [(c.field, c.text) for c in again[:-1]] == [("reasoning", first[-1].reasoning), ("answer", "42")]
    assert again[-1] == first[-1]
    assert len(first) > len(again)


def test_fields_filter_and_a_scripted_lm(scripted):
    scripted([{"reasoning": "r", "answer": 3}])
    items = list(lmdsl.stream(ChainOfThought("question -> answer: int"), fields=["answer"])(question="?"))
    assert items[:-1] == [StreamChunk("self", "answer", "3")] and items[-1].answer == 3


def test_errors_reach_the_consumer(scripted):
    scripted([])
    with pytest.raises(LookupError, match="ran out of scripted answers"):
        list(lmdsl.stream(Predict("q -> a"))(q="?"))


def test_outside_stream_calls_are_unchanged(scripted):
    lm = scripted([{"a": "x"}])
    from lmdsl.predict.streaming import streamed_lm

    assert streamed_lm(lm, None, None, None) is lm
    assert Predict("q -> a")(q="?").a == "x"
