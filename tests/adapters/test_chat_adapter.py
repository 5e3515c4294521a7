"""ChatAdapter: prompt layout, lenient ``Label: value`` parsing, re-ask text, grammar and token hints."""

from __future__ import annotations

from typing import Literal

import pytest

import lmdsl
from lmdsl import ChainOfThought, Example, Predict, signature
from lmdsl.adapters import ChatAdapter
from lmdsl.errors import ValueParseError

SENTIMENT = signature(
    "sentence -> sentiment: Literal['positive', 'negative']", instructions="Classify the sentiment."
)
QA = signature("context: list[str], question -> answer", instructions="Answer the question.")
COT = signature("question -> reasoning, answer: int", instructions="Solve it.")
adapter = ChatAdapter()


# ---- layout ---------------------------------------------------------------------------
def test_exact_messages_without_demos():
    assert adapter.format(SENTIMENT, [], {"sentence": "A joyless film."}) == [
        {
            "role": "system",
            "content": (
                "Classify the sentiment.\n\n"
                "Inputs:\n- Sentence\n"
                "Outputs:\n- Sentiment: one of: positive, negative\n\n"
                "Reply in exactly this format:\nSentiment: <one of: positive, negative>"
            ),
        },
        {"role": "user", "content": "Sentence: A joyless film."},
    ]


def test_demos_are_user_assistant_turns_between_system_and_input():
    demos = [
        Example(sentence="Great fun.", sentiment="positive"),
        Example(sentence="Tedious.", sentiment="negative"),
    ]
    messages = adapter.format(SENTIMENT, demos, {"sentence": "A joyless film."})
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[1:5] == [
        {"role": "user", "content": "Sentence: Great fun."},
        {"role": "assistant", "content": "Sentiment: positive"},
        {"role": "user", "content": "Sentence: Tedious."},
        {"role": "assistant", "content": "Sentiment: negative"},
    ]
    assert messages[-1] == {"role": "user", "content": "Sentence: A joyless film."}


def test_stable_content_first_variable_input_last():
    demos = [Example(sentence="Great fun.", sentiment="positive")]
    a = adapter.format(SENTIMENT, demos, {"sentence": "first input"})
    b = adapter.format(SENTIMENT, demos, {"sentence": "second input"})
    assert a[:-1] == b[:-1]  # a shared prefix: provider / llama.cpp prompt caches hit
    assert a[-1] == {"role": "user", "content": "Sentence: first input"}
    assert all("first input" not in m["content"] for m in a[:-1])


def test_incomplete_demos_are_skipped():
    demos = [Example(sentence="no label"), Example(sentiment="positive"), {"sentence": "ok", "sentiment": "negative"}]
    messages = adapter.format(SENTIMENT, demos, {"sentence": "x"})
    assert [m["content"] for m in messages[1:-1]] == ["Sentence: ok", "Sentiment: negative"]


def test_inputs_render_lists_numbered_and_skip_unset_optionals():
    sig = signature("context: list[str], question, hint: str | None -> answer")
    sig = sig.__class__(
        [sig.inputs["context"], sig.inputs["question"],
         lmdsl.Field("hint", str | None, "", "input", None)],
        sig.outputs,
    )
    text = adapter.render_inputs(sig, {"context": ["a", "b"], "question": "q?", "hint": None})
    assert text == "Context:\n[1] a\n[2] b\n\nQuestion: q?"


def test_field_descriptions_in_system_message():
    sig = signature("question -> answer").with_instructions("Answer.")
    sig = sig.__class__(
        [lmdsl.Field("question", str, "a trivia question")],
        [lmdsl.Field("answer", int, "the year", "output")],
        "Answer.",
    )
    system = adapter.system_message(sig)
    assert "- Question: a trivia question\n" in system
    assert "- Answer: the year; an integer\n" in system


# ---- parsing --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reasoning: 2 and 2\nAnswer: 4", {"reasoning": "2 and 2", "answer": 4}),
        ("reasoning: 2 and 2\nanswer: 4", {"reasoning": "2 and 2", "answer": 4}),
        ("REASONING: r\nANSWER: 1,234", {"reasoning": "r", "answer": 1234}),
        ("**Reasoning:** r\n**Answer:** 7", {"reasoning": "r", "answer": 7}),
        ("**Reasoning**: r\n**Answer**: 7", {"reasoning": "r", "answer": 7}),
        ("## Reasoning: r\n> Answer: 7", {"reasoning": "r", "answer": 7}),
        ("Reasoning: first line\nsecond line\nAnswer: 3.", {"reasoning": "first line\nsecond line", "answer": 3}),
        ("Reasoning: it is two. Answer: 2", {"reasoning": "it is two.", "answer": 2}),  # marker mid-line
        ("Because 2+2 is 4.\nAnswer: 4", {"reasoning": "Because 2+2 is 4.", "answer": 4}),  # no leading marker
        ("Reasoning：r\nAnswer：5", {"reasoning": "r", "answer": 5}),  # full-width colon
    ],
)
def test_lenient_parsing(text, expected):
    assert adapter.parse(COT, text) == expected


def test_single_output_without_marker():
    assert adapter.parse(SENTIMENT, "Positive.") == {"sentiment": "positive"}
    assert adapter.parse(SENTIMENT, "Sentiment: negative") == {"sentiment": "negative"}
    assert adapter.parse(SENTIMENT, "**sentiment**: Negative") == {"sentiment": "negative"}


def test_multiword_labels():
    sig = signature("q -> search_query, final_answer")
    parsed = adapter.parse(sig, "Search Query: capital france\nFinal Answer: Paris")
    assert parsed == {"search_query": "capital france", "final_answer": "Paris"}
    assert adapter.parse(sig, "search_query: a\nfinal_answer: b") == {"search_query": "a", "final_answer": "b"}


def test_missing_trailing_marker_is_an_error_naming_it():
    with pytest.raises(ValueParseError) as info:
        adapter.parse(COT, "Reasoning: I am not sure")
    assert str(info.value) == "missing output field(s) 'Answer:' in reply 'Reasoning: I am not sure'"
    assert info.value.field == "answer"


def test_a_missing_non_text_leading_field_is_not_guessed():
    sig = signature("q -> label: Literal['a', 'b'], answer")
    with pytest.raises(ValueParseError, match=r"^missing output field\(s\) 'Label:' in reply"):
        adapter.parse(sig, "a\nAnswer: text")


def test_value_error_names_the_field():
    with pytest.raises(ValueParseError) as info:
        adapter.parse(COT, "Reasoning: r\nAnswer: many")
    assert str(info.value) == "field 'answer': expected int, got 'many' (no number in it)"


def test_single_field_error_shows_the_value_not_the_marker():
    with pytest.raises(ValueParseError) as info:
        adapter.parse(SENTIMENT, "Sentiment: neutral")
    assert str(info.value) == (
        "field 'sentiment': expected Literal['positive', 'negative'], got 'neutral' (not one of positive, negative)"
    )


def test_render_reply_round_trips():
    for sig, outputs in [
        (COT, {"reasoning": "because", "answer": 4}),
        (signature("q -> items: list[str], ok: bool"), {"items": ["a", "b, c"], "ok": True}),
        (SENTIMENT, {"sentiment": "negative"}),
    ]:
        assert adapter.parse(sig, adapter.render_reply(sig, outputs)) == outputs


def test_render_reply_orders_by_signature():
    assert adapter.render_reply(COT, {"answer": 4, "reasoning": "r"}) == "Reasoning: r\nAnswer: 4"


def test_reask_message_shows_error_and_format():
    error = ValueParseError("field 'answer': expected int, got 'many' (no number in it)")
    assert adapter.reask_message(COT, error) == (
        "I could not read your reply: field 'answer': expected int, got 'many' (no number in it).\n"
        "Answer again, in exactly this format:\nReasoning: <reasoning>\nAnswer: <an integer>"
    )


# ---- decoding hints -------------------------------------------------------------------
def test_grammar_for_literal():
    assert adapter.grammar(SENTIMENT) == 'root ::= "Sentiment: " v0\nv0 ::= ("positive" | "negative")'


def test_grammar_for_int_and_cot():
    assert adapter.grammar(signature("q -> count: int")) == 'root ::= "Count: " v0\nv0 ::= "-"? [0-9]{1,15}'
    cot = ChainOfThought(signature("q -> count: int"))
    assert adapter.grammar(cot.signature) == (
        'root ::= "Reasoning: " v0 "\\n" "Count: " v1\n'
        "v0 ::= [^\\n]{1,400}\n"
        'v1 ::= "-"? [0-9]{1,15}'
    )


def test_grammar_bounds_free_text_fields_except_the_last():
    # An unbounded reasoning line let the 135M model write until max_tokens (256) and never
    # reach the answer; the last field ends the reply, so it stays unbounded.
    cot = ChainOfThought(signature("question -> answer"))
    assert adapter.grammar(cot.signature) == (
        'root ::= "Reasoning: " v0 "\\n" "Answer: " v1\nv0 ::= [^\\n]{1,400}\nv1 ::= [^\\n]+'
    )
    grammar = adapter.grammar(signature("q -> summary: str, note: str | None, label: bool, answer: str"))
    assert grammar.splitlines()[1:] == [
        "v0 ::= [^\\n]{1,400}",
        'v1 ::= ([^\\n]{1,400} | "None")',
        'v2 ::= ("yes" | "no")',
        "v3 ::= [^\\n]+",
    ]
    assert adapter.grammar(signature("q -> answer: str | None")).endswith('v0 ::= ([^\\n]+ | "None")')


def test_grammar_for_other_types():
    assert adapter.grammar(signature("q -> ok: bool")) == 'root ::= "Ok: " v0\nv0 ::= ("yes" | "no")'
    assert adapter.grammar(signature("q -> x: float")) == 'root ::= "X: " v0\nv0 ::= "-"? [0-9]{1,15} ("." [0-9]{1,6})?'
    assert adapter.grammar(signature("q -> x: int | None")) == 'root ::= "X: " v0\nv0 ::= ("-"? [0-9]{1,15} | "None")'
    assert adapter.grammar(signature("q -> items: list[str]")) is None  # no grammar rather than a wrong one


def test_grammar_accepts_rendered_replies():
    """Every reply render_reply produces matches the grammar (checked with a tiny GBNF-to-regex)."""
    import re

    def to_regex(grammar: str) -> str:
        rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines())

        def convert(body: str) -> str:
            regex = ""
            for token in re.findall(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\{\d+(?:,\d*)?\}|[()|?+*]|\w+', body):
                if token.startswith('"'):
                    regex += re.escape(token[1:-1].encode().decode("unicode_escape"))
                elif token in rules:  # value rules reference no other rule
                    regex += "(" + convert(rules[token]) + ")"
                else:
                    regex += token
            return regex

        return convert(rules["root"])

    cot = ChainOfThought(signature("q -> answer")).signature
    assert not re.fullmatch(to_regex(adapter.grammar(cot)), adapter.render_reply(cot, {"reasoning": "r" * 401,
                                                                                         "answer": "a"}))
    for sig, outputs in [
        (SENTIMENT, {"sentiment": "positive"}),
        (ChainOfThought(signature("q -> count: int")).signature, {"reasoning": "two and two", "count": -4}),
        (signature("q -> ok: bool, x: float"), {"ok": False, "x": 2.5}),
        (ChainOfThought(signature("q -> answer")).signature, {"reasoning": "r" * 400, "answer": "a" * 500}),
    ]:
        assert re.fullmatch(to_regex(adapter.grammar(sig)), adapter.render_reply(sig, outputs)), sig


def test_max_tokens_hint():
    assert adapter.max_tokens(SENTIMENT) == 20
    assert adapter.max_tokens(signature("q -> a: int, b: bool")) == 32
    assert adapter.max_tokens(QA) is None
    assert adapter.max_tokens(COT) is None


def test_render_without_calling_the_lm():
    predictor = Predict(SENTIMENT)
    predictor.demos = [Example(sentence="Great fun.", sentiment="positive")]
    messages = predictor.render(sentence="A joyless film.")
    assert messages == adapter.format(SENTIMENT, predictor.demos, {"sentence": "A joyless film."})
    assert predictor.format(sentence="A joyless film.") == messages
    assert lmdsl.render(SENTIMENT, demos=predictor.demos, sentence="A joyless film.") == messages
    # no LM is configured in tests: rendering must not need one


def test_render_with_decorated_function():
    @signature
    def classify(sentence: str) -> Literal["positive", "negative"]:
        """Classify the sentiment."""

    messages = lmdsl.render(classify, sentence="Fine.")
    assert messages[-1] == {"role": "user", "content": "Sentence: Fine."}
    assert "Output: <one of: positive, negative>" in messages[0]["content"]
