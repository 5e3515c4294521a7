"""`History`: earlier turns of a conversation, as an input field of a signature.

Each turn is a dict keyed by the signature's field names (``{"question": ..., "answer": ...}``).
Adapters render the turns as earlier user/assistant messages, after the demos and before
the current input, so a multi-turn program is an ordinary predictor whose signature has a
``history: History`` input::

    class Chat(lmdsl.Signature):
        question: str = lmdsl.InputField()
        history: lmdsl.History = lmdsl.InputField()
        answer: str = lmdsl.OutputField()

    history = lmdsl.History(messages=[{"question": "Capital of France?", "answer": "Paris"}])
    chat(question="And of Italy?", history=history)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lmdsl.errors import SignatureError


@dataclass
class History:
    """Conversation turns, oldest first; ``messages`` is a list of dicts keyed by field name."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.messages, Sequence) or isinstance(self.messages, str | bytes):
            raise SignatureError(f"History(messages=...) takes a list of dicts, got {type(self.messages).__name__}")
        for i, turn in enumerate(self.messages):
            if not isinstance(turn, Mapping):
                raise SignatureError(f"History: turn {i} must be a dict of field values, got {turn!r}")
        self.messages = [dict(turn) for turn in self.messages]

    def __len__(self) -> int:
        return len(self.messages)

    def with_turn(self, **turn: Any) -> History:
        """A new History with one more turn: ``history = history.with_turn(question=q, answer=a)``."""
        return History([*self.messages, turn])

    @classmethod
    def coerce(cls, value: Any) -> History | None:
        """A History from itself, a list of turns, or a saved ``{"messages": [...]}``; None for None."""
        if value is None or isinstance(value, History):
            return value
        if isinstance(value, Mapping) and "messages" in value:
            return cls(value["messages"])
        if isinstance(value, Sequence) and not isinstance(value, str | bytes):
            return cls(list(value))
        raise SignatureError(f"a History input needs History(messages=[...]) or a list of turns, got {value!r}")


def is_history(tp: Any) -> bool:
    return tp is History or (isinstance(tp, type) and issubclass(tp, History))


def history_fields(signature: Any) -> list[str]:
    return [name for name, f in signature.inputs.items() if is_history(f.type)]
