"""lmdsl.History: earlier turns rendered by both adapters as user/assistant messages before the input."""

from __future__ import annotations

import json

import pytest

import lmdsl
from lmdsl import History, InputField, OutputField, Predict, Signature, SignatureError
from lmdsl.adapters import ChatAdapter, JSONAdapter


class Chat(Signature):
    """Answer the user's question, using the conversation so far."""

    question: str = InputField()
    history: History = InputField()
    answer: str = OutputField()


TURNS = History(messages=[
    {"question": "Capital of France?", "answer": "Paris"},
    {"question": "And its river?", "answer": "The Seine"},
])


def test_chat_adapter_renders_turns_as_messages_before_the_input():
    messages = ChatAdapter().format(lmdsl.signatures.as_signature(Chat), [], {"question": "And of Italy?",
                                                                               "history": TURNS})
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[1]["content"] == "Question: Capital of France?"
    assert messages[2]["content"] == "Answer: Paris"
    assert messages[4]["content"] == "Answer: The Seine"
    assert messages[-1]["content"] == "Question: And of Italy?"  # the history is not repeated in the input
    assert "History" not in messages[0]["content"]


def test_json_adapter_renders_turns_as_json_replies():
    messages = JSONAdapter().format(lmdsl.signatures.as_signature(Chat), [], {"question": "q", "history": TURNS})
    assert json.loads(messages[2]["content"]) == {"answer": "Paris"}
    assert messages[-1]["content"] == "Question: q"


def test_turns_come_after_demos():
    demo = lmdsl.Example(question="2+2?", answer="4", history=History()).with_inputs("question", "history")
    messages = ChatAdapter().format(lmdsl.signatures.as_signature(Chat), [demo], {"question": "q", "history": TURNS})
    assert [m["content"] for m in messages[1:4]] == ["Question: 2+2?", "Answer: 4", "Question: Capital of France?"]


def test_a_multi_turn_conversation_through_predict(scripted):
    lm = scripted([{"answer": "Paris"}, {"answer": "Rome"}])
    chat = Predict(Chat)
    history = History()
    for question in ["Capital of France?", "And of Italy?"]:
        answer = chat(question=question, history=history).answer
        history = history.with_turn(question=question, answer=answer)
    assert history.messages == [{"question": "Capital of France?", "answer": "Paris"},
                                {"question": "And of Italy?", "answer": "Rome"}]
    assert [m["content"] for m in lm.requests[1][1:]] == ["Question: Capital of France?", "Answer: Paris",
                                                           "Question: And of Italy?"]


def test_a_plain_list_of_turns_is_accepted_and_bad_values_are_named():
    sig = lmdsl.signatures.as_signature(Chat)
    messages = ChatAdapter().format(sig, [], {"question": "q", "history": [{"question": "a", "answer": "b"}]})
    assert len(messages) == 4
    with pytest.raises(SignatureError, match="turn 0 must be a dict"):
        History(messages=["hello"])
    with pytest.raises(SignatureError, match="needs History"):
        ChatAdapter().format(sig, [], {"question": "q", "history": "hello"})


def test_history_in_a_saved_demo_round_trips(scripted, tmp_path):
    scripted([])
    chat = Predict(Chat)
    chat.demos = [lmdsl.Example(question="q", history=TURNS, answer="a").with_inputs("question", "history")]
    chat.save(tmp_path / "chat.json")
    loaded = Predict(Chat).load(tmp_path / "chat.json")
    assert History.coerce(loaded.demos[0]["history"]) == TURNS


def test_only_history_typed_inputs_become_turns():
    sig = Signature("question, history: list[str] -> answer")  # a list[str] input is just an input
    messages = ChatAdapter().format(sig, [], {"question": "q", "history": ["x"]})
    assert "History:" in messages[-1]["content"]


def test_inherited_history_signature():
    class Chat2(Chat):
        confidence: float = OutputField()

    assert list(lmdsl.signatures.as_signature(Chat2).inputs) == ["question", "history"]
