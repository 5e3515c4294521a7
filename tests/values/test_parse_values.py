"""Parsing LM text into annotated types: lenient where safe, strict with a precise error otherwise."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Literal, NamedTuple, Optional, TypedDict

import pydantic
import pytest

from lmdsl.errors import ValueParseError
from lmdsl.values import parse_value


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Pair(NamedTuple):
    name: str
    count: int


class Movie(TypedDict):
    title: str
    year: int


class OptionalMovie(TypedDict, total=False):
    title: str
    year: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Person(pydantic.BaseModel):
    name: str
    age: int
    tags: list[str] = []


Sentiment = Literal["positive", "negative"]


def error(text: str, tp: Any, field: str | None = "f") -> str:
    with pytest.raises(ValueParseError) as info:
        parse_value(text, tp, field)
    return str(info.value)


# ---- str / Any ------------------------------------------------------------------------
def test_str_is_stripped_and_otherwise_untouched():
    assert parse_value("  Paris, France.\n", str) == "Paris, France."
    assert parse_value(" x ", Any) == "x"


# ---- int / float ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("-3", -3),
        ("+7", 7),
        ("1,234", 1234),
        ("1,234,567", 1234567),
        ("42.", 42),
        ("$300", 300),
        ("The answer is 42.", 42),
        ("2 + 2 = 4", 4),  # a worked sum: the last number is the result
        ("1e3", 1000),
        ("7.0", 7),
    ],
)
def test_int_lenient(text, expected):
    value = parse_value(text, int)
    assert value == expected and type(value) is int


@pytest.mark.parametrize(("text", "expected"), [("2.5", 2.5), ("-1,234.5", -1234.5), ("about 3.75 km", 3.75),
                                                (".5", 0.5), ("12%", 12.0), ("3", 3.0)])
def test_float_lenient(text, expected):
    value = parse_value(text, float)
    assert value == expected and type(value) is float


def test_int_strict_errors_name_field_type_and_text():
    assert error("abc", int, "count") == "field 'count': expected int, got 'abc' (no number in it)"
    assert error("3.5", int, "count") == "field 'count': expected int, got '3.5' (3.5 is not a whole number)"
    assert error("", int) == "field 'f': expected int, got '' (no number in it)"
    assert error("x", float, None) == "value: expected float, got 'x' (no number in it)"


@pytest.mark.parametrize("text", ["1,2,3", "12,34", "1.5 2.5"])
def test_several_bare_numbers_are_not_guessed(text):
    # "12,34" is a decimal comma or a list: neither 1234 nor 34 would be safe.
    assert error(text, int, "n") == f"field 'n': expected int, got {text!r} (several numbers)"


def test_error_text_is_truncated_for_long_replies():
    msg = error("word " * 100, int, "n")
    assert msg.startswith("field 'n': expected int, got 'word word")
    assert "...'" in msg and len(msg) < 300


def test_value_parse_error_carries_field_text_and_expected():
    with pytest.raises(ValueParseError) as info:
        parse_value("nope", int, "count")
    assert (info.value.field, info.value.text, info.value.expected) == ("count", "nope", "int")


# ---- bool -----------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["yes", "Yes.", "TRUE", "true", "y", "Correct, because...", "1"])
def test_bool_true(text):
    assert parse_value(text, bool) is True


@pytest.mark.parametrize("text", ["no", "No.", "false", "Incorrect", "n", "0", "Wrong: it is 4"])
def test_bool_false(text):
    assert parse_value(text, bool) is False


def test_bool_strict():
    assert error("maybe", bool, "ok") == "field 'ok': expected bool, got 'maybe' (expected yes/no or true/false)"
    # the first word decides: a sentence that merely contains "yes" later is not a yes
    assert error("I would say yes", bool, "ok").startswith("field 'ok': expected bool")


# ---- Literal / Enum -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("positive", "positive"),
        ("Positive.", "positive"),
        ("NEGATIVE", "negative"),
        ("**positive**", "positive"),
        ("'negative'", "negative"),
        ("The sentiment is negative overall.", "negative"),
        ("negative, not positive", "negative"),  # a reply that opens with a label means it
    ],
)
def test_literal_lenient(text, expected):
    assert parse_value(text, Sentiment) == expected


def test_literal_naming_several_labels_mid_sentence_is_ambiguous():
    with pytest.raises(ValueParseError, match="names several of positive, negative"):
        parse_value("It is not positive, rather negative.", Literal["positive", "negative"], "value")


def test_literal_word_boundaries():
    # "non-positive" must not count as "positive"
    msg = error("non-positive", Sentiment, "sentiment")
    assert msg == ("field 'sentiment': expected Literal['positive', 'negative'], got 'non-positive' "
                   "(not one of positive, negative)")


def test_literal_strict_error():
    assert error("neutral", Sentiment, "sentiment") == (
        "field 'sentiment': expected Literal['positive', 'negative'], got 'neutral' (not one of positive, negative)"
    )


def test_literal_of_numbers_keeps_the_choice_type():
    assert parse_value("2", Literal[1, 2, 3]) == 2
    assert parse_value("I pick 3", Literal[1, 2, 3]) == 3


def test_enum_by_value_and_by_name():
    assert parse_value("red", Color) is Color.RED
    assert parse_value("Green.", Color) is Color.GREEN
    assert parse_value("RED", Color) is Color.RED
    assert error("blue", Color, "c") == "field 'c': expected Color, got 'blue' (not one of red, green)"


# ---- Optional / unions ----------------------------------------------------------------
@pytest.mark.parametrize("text", ["None", "none", "null", "N/A", "", "None."])
def test_optional_none(text):
    assert parse_value(text, Optional[int]) is None  # noqa: UP045
    assert parse_value(text, int | None) is None


def test_optional_value_and_error():
    assert parse_value("5", int | None) == 5
    assert parse_value("Paris", str | None) == "Paris"
    assert error("many", int | None, "n") == "field 'n': expected int, got 'many' (no number in it)"


def test_union_tries_each_option():
    assert parse_value("12", int | bool) == 12
    assert parse_value("yes", int | bool) is True
    msg = error("maybe", int | bool, "v")
    assert msg.startswith("field 'v': expected int | bool, got 'maybe' (")
    assert "no number in it" in msg and "expected yes/no" in msg


# ---- lists ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "tp", "expected"),
    [
        ('["a", "b"]', list[str], ["a", "b"]),
        ("1. alpha\n2. beta", list[str], ["alpha", "beta"]),
        ("- alpha\n- beta", list[str], ["alpha", "beta"]),
        ("[1] alpha\n[2] beta", list[str], ["alpha", "beta"]),
        ("alpha, beta", list[str], ["alpha", "beta"]),
        ("1, 2, 3", list[int], [1, 2, 3]),
        ("```json\n[1, 2]\n```", list[int], [1, 2]),
        ('Here you go: ["x", "y"]', list[str], ["x", "y"]),
        ('["1", 2]', list[int], [1, 2]),
        ("yes\nno", list[bool], [True, False]),
        ("[1] alpha", list[str], ["alpha"]),  # a numbered line that also looks like JSON
        ("[1] 5\n[2] 7", list[int], [5, 7]),
    ],
)
def test_list(text, tp, expected):
    assert parse_value(text, tp) == expected


def test_set_and_tuple_types():
    assert parse_value('["a", "b", "a"]', set[str]) == {"a", "b"}
    assert parse_value("[1, 2]", tuple[int, ...]) == (1, 2)


def test_list_item_error_names_the_field():
    assert error('["1", "x"]', list[int], "ids") == "field 'ids': expected int, got 'x' (no number in it)"


# ---- dict / structured ----------------------------------------------------------------
def test_dict():
    assert parse_value('{"a": 1, "b": "2"}', dict[str, int]) == {"a": 1, "b": 2}
    assert parse_value('Sure:\n```json\n{"a": 1}\n```\nDone.', dict[str, int]) == {"a": 1}
    assert parse_value('{"a": [1]}', dict) == {"a": [1]}


def test_dict_strict():
    assert error('{"a": "x"}', dict[str, int], "d") == (
        "field 'd': expected dict[str, int], got '{\"a\": \"x\"}' "
        "(a: Input should be a valid integer, unable to parse string as an integer)"
    )
    msg = error("no json here", dict[str, int], "d")
    assert msg.startswith("field 'd': expected dict[str, int], got 'no json here' (no valid JSON found")


def test_namedtuple():
    assert parse_value('{"name": "a", "count": "3"}', Pair) == Pair("a", 3)
    assert parse_value('```json\n{"count": 2, "name": "b"}\n```', Pair) == Pair("b", 2)


def test_namedtuple_errors_name_the_member():
    assert error('{"name": "a", "count": "lots"}', Pair, "pair") == (
        "field 'pair.count': expected int, got 'lots' (no number in it)"
    )
    msg = error('{"name": "a"}', Pair, "pair")
    assert msg.startswith("field 'pair': expected Pair, got '{\"name\": \"a\"}' (")
    assert "count" in msg


def test_typeddict():
    # typing.TypedDict on Python 3.11 is refused by pydantic: lmdsl validates it itself.
    assert parse_value('{"title": "Up", "year": "2009"}', Movie) == {"title": "Up", "year": 2009}
    assert parse_value('{"title": "Up", "extra": 1}', OptionalMovie) == {"title": "Up"}


def test_typeddict_errors():
    assert error('{"title": "Up"}', Movie, "movie") == (
        "field 'movie': expected Movie, got '{\"title\": \"Up\"}' (missing key(s) year)"
    )
    assert error('{"title": "Up", "year": "soon"}', Movie, "movie") == (
        "field 'movie.year': expected int, got 'soon' (no number in it)"
    )
    assert error("[1, 2]", Movie, "movie") == "field 'movie': expected Movie, got '[1, 2]' (not a JSON object)"


def test_dataclass():
    assert parse_value('{"x": 1, "y": 2}', Point) == Point(1, 2)
    assert parse_value('here:\n```json\n{"x": 3, "y": "4"}\n```', Point) == Point(3, 4)
    msg = error("nope", Point, "p")
    assert msg.startswith("field 'p': expected Point, got 'nope' (no valid JSON found")


def test_pydantic_model():
    assert parse_value('{"name": "Ada", "age": 36, "tags": ["math"]}', Person) == Person(
        name="Ada", age=36, tags=["math"]
    )
    assert error('{"name": "Ada", "age": "old"}', Person, "person") == (
        "field 'person': expected Person, got '{\"name\": \"Ada\", \"age\": \"old\"}' "
        "(age: Input should be a valid integer, unable to parse string as an integer)"
    )


def test_list_of_models():
    assert parse_value('[{"x": 1, "y": 2}]', list[Point]) == [Point(1, 2)]
