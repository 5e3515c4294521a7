"""A multi-turn assistant: ``lmdsl.History`` carries the conversation, one predictor answers.

    python examples/chat.py                                   # a scripted three-turn conversation
    python examples/chat.py "Name a fruit." "What colour is it?"
    python examples/chat.py --stream "Name a fruit."          # print the reply as it is written
    python examples/chat.py --async "Name a fruit." "And a vegetable?"

The signature has a ``history: lmdsl.History`` input. Both adapters show each earlier turn as
a user message (its inputs) and an assistant message (its outputs), after any demos and
before the new message, so the model sees an ordinary chat; the program appends each
exchange to the history. ``Assistant`` works the same through ``await bot.acall(...)``
(``aforward``) and ``lmdsl.stream(bot)``. Any LM works (``$LMDSL_LM``); with nothing
configured it runs on the embedded 135M model, which follows a conversation only loosely.
"""

from __future__ import annotations

import argparse
import asyncio

import lmdsl
from lmdsl import History, InputField, OutputField, Predict, Signature, program


class Reply(Signature):
    """You are a helpful assistant. Reply to the user's latest message in one or two short
    sentences, consistent with the conversation so far."""

    message: str = InputField(desc="the user's latest message")
    history: History = InputField(desc="the conversation so far")
    reply: str = OutputField(desc="your reply")


@program
class Assistant:
    """Answers one message; ``history`` holds the earlier turns and grows with each exchange."""

    def __init__(self):
        self.respond = Predict(Reply)
        self.history = History()

    def forward(self, message: str):
        prediction = self.respond(message=message, history=self.history)
        self.history = self.history.with_turn(message=message, reply=prediction.reply)
        return prediction

    async def aforward(self, message: str):
        prediction = await self.respond.acall(message=message, history=self.history)
        self.history = self.history.with_turn(message=message, reply=prediction.reply)
        return prediction


DEFAULT_TURNS = ["Hi! My name is Ada.", "What is the capital of France?", "What is my name?"]


def main() -> None:
    parser = argparse.ArgumentParser(description="A multi-turn assistant with lmdsl.History.")
    parser.add_argument("messages", nargs="*", default=DEFAULT_TURNS)
    parser.add_argument("--async", dest="use_async", action="store_true", help="run through await bot.acall()")
    parser.add_argument("--stream", action="store_true", help="print each reply as the model writes it")
    args = parser.parse_args()
    bot = Assistant()
    for message in args.messages:
        print(f"user: {message}")
        if args.stream:
            print("assistant: ", end="", flush=True)
            for item in lmdsl.stream(bot)(message=message):
                if isinstance(item, lmdsl.StreamChunk) and item.field == "reply":
                    print(item.text, end="", flush=True)
            print()
            continue
        reply = asyncio.run(bot.acall(message=message)) if args.use_async else bot(message=message)
        print(f"assistant: {reply.reply}")


if __name__ == "__main__":
    main()
