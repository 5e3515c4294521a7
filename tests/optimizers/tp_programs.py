"""Programs, data and scripted LMs shared by the optimizer tests."""

from __future__ import annotations

import threading
from typing import Any, Literal

import lmdsl
from lmdsl import Example, Predict, program
from lmdsl.testing import ScriptedLM

QA = lmdsl.signature("question -> answer")
WRITE_QUERY = lmdsl.signature("question -> query")
ANSWER = lmdsl.signature("question, query -> answer")


@program
class QAProgram:
    def __init__(self):
        self.gen = Predict(QA)

    def forward(self, question):
        return self.gen(question=question)


@program
class TwoStep:
    """A query writer (no labels for its output) feeding an answerer."""

    def __init__(self):
        self.write = Predict(WRITE_QUERY)
        self.answer = Predict(ANSWER)

    def forward(self, question):
        query = self.write(question=question).query
        return self.answer(question=question, query=query)


@lmdsl.signature
def mood(text: str) -> Literal["negative", "positive"]:
    """Classify the mood of the text.

    Returns:
        label: the mood.
    """


@program
class Mood:
    def __init__(self):
        self.classify = Predict(mood)

    def forward(self, text):
        return self.classify(text=text)


def rows(n: int, prefix: str = "q", start: int = 0) -> list[Example]:
    """``q0 -> a0``, ``q1 -> a1``, ..."""
    return [Example(question=f"{prefix}{i}", answer=f"a{i}").with_inputs("question") for i in range(start, start + n)]


def number(question: str) -> int:
    return int("".join(ch for ch in question if ch.isdigit()))


def gold(inputs: dict[str, Any]) -> dict[str, str]:
    return {"answer": f"a{number(inputs['question'])}"}


def right_on_even(inputs: dict[str, Any]) -> dict[str, str]:
    i = number(inputs["question"])
    return {"answer": f"a{i}" if i % 2 == 0 else f"wrong{i}"}


def demo_count(messages: list[dict[str, Any]]) -> int:
    """Demos in a chat prompt: system, then (user, assistant) per demo, then the input."""
    return (len(messages) - 2) // 2


def demo_inputs(messages: list[dict[str, Any]]) -> list[str]:
    """The user turns of the demos (everything between the system message and the input)."""
    return [m["content"] for m in messages[1:-1] if m["role"] == "user"]


class PromptLM(ScriptedLM):
    """A ScriptedLM whose answer function also sees the prompt and params: ``fn(inputs, messages, params)``.

    Copies made with ``lm.copy(...)`` share the function and the record of calls.
    """

    def __init__(self, fn, **kwargs):
        local = threading.local()
        super().__init__(lambda inputs: fn(inputs, local.messages, local.params), **kwargs)
        self._local = local
        self.calls: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []

    def _complete(self, messages, params):
        self._local.messages, self._local.params = messages, params
        with self._lock:
            self.calls.append((messages, dict(params)))
        return super()._complete(messages, params)


class CountingLM(ScriptedLM):
    """Counts the calls that reach the model; raises ``interrupt`` (default KeyboardInterrupt) once
    more than ``limit`` have, or fails the test outright when ``forbid`` is set."""

    def __init__(self, answers, *, limit: int | None = None, forbid: bool = False,
                 interrupt: type[BaseException] = KeyboardInterrupt, **kwargs):
        kwargs.setdefault("cache", True)
        super().__init__(answers, **kwargs)
        self.limit, self.forbid, self.interrupt = limit, forbid, interrupt
        self._count = [0]  # shared with copies (lm.copy(temperature=1.0, rollout_id=...))
        self.params: list[dict[str, Any]] = []  # of every call that reached the model (shared too)

    @property
    def model_calls(self) -> int:
        """Calls that reached the model and returned, this LM and its copies together."""
        return self._count[0]

    def _complete(self, messages, params):
        if self.forbid:
            raise AssertionError(f"LM called although every answer should come from the cache: {messages[-1]}")
        with self._lock:
            if self.limit is not None and self._count[0] >= self.limit:
                raise self.interrupt()
            self._count[0] += 1
            self.params.append(dict(params))
        return super()._complete(messages, params)
