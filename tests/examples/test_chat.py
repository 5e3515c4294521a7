"""examples/chat.py: the conversation grows turn by turn and each turn sees the earlier ones."""

from __future__ import annotations

import asyncio

from hotpot_world import load_example

import lmdsl


def test_each_turn_sees_the_conversation_so_far(scripted):
    chat = load_example("chat")
    lm = scripted([{"reply": "Hello Ada!"}, {"reply": "Paris."}, {"reply": "Your name is Ada."}])
    bot = chat.Assistant()
    replies = [bot(message=m).reply for m in chat.DEFAULT_TURNS]
    assert replies == ["Hello Ada!", "Paris.", "Your name is Ada."]
    last = [m["content"] for m in lm.requests[-1][1:]]
    assert last == ["Message: Hi! My name is Ada.", "Reply: Hello Ada!",
                    "Message: What is the capital of France?", "Reply: Paris.",
                    "Message: What is my name?"]


def test_async_and_streamed_turns(scripted):
    chat = load_example("chat")
    scripted([{"reply": "One."}, {"reply": "Two."}])
    bot = chat.Assistant()
    assert asyncio.run(bot.acall(message="first")).reply == "One."
    items = list(lmdsl.stream(bot)(message="second"))
    assert items[-1].reply == "Two." and items[0] == lmdsl.StreamChunk("respond", "reply", "Two.")
    assert [t["message"] for t in bot.history.messages] == ["first", "second"]
