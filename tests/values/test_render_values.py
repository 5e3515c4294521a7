"""Rendering values into prompt text, and describing types for the model."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Literal, NamedTuple

import pydantic
import pytest

from lmdsl.values import describe_type, is_closed_type, parse_value, render_value, type_repr
from lmdsl.values.render import render_output_value


class Color(enum.Enum):
    RED = "red"


class Pair(NamedTuple):
    name: str
    count: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Person(pydantic.BaseModel):
    name: str
    age: int


def test_scalars():
    assert render_value("text\nas is") == "text\nas is"
    assert render_value(3) == "3"
    assert render_value(2.5) == "2.5"
    assert render_value(True) == "yes" and render_value(False) == "no"
    assert render_value(None) == "None"
    assert render_value(Color.RED) == "red"


def test_lists_are_numbered():
    assert render_value(["alpha", "beta"]) == "[1] alpha\n[2] beta"
    assert render_value((1, 2.5)) == "[1] 1\n[2] 2.5"
    assert render_value([]) == "(none)"


def test_structured_values_are_json():
    assert render_value({"a": 1, "b": [1, 2]}) == '{"a": 1, "b": [1, 2]}'
    assert json.loads(render_value(Person(name="Ada", age=36))) == {"name": "Ada", "age": 36}
    assert json.loads(render_value(Point(1, 2))) == {"x": 1, "y": 2}
    assert json.loads(render_value(Pair("a", 1))) == {"name": "a", "count": 1}
    assert json.loads(render_value([{"a": 1}, {"a": 2}])) == [{"a": 1}, {"a": 2}]
    assert render_value({"k": "é"}) == '{"k": "é"}'  # not escaped for the model


def test_output_values_render_so_they_parse_back():
    for value, tp in [
        (["a", "b"], list[str]),
        ([1, 2], list[int]),
        ({"a": 1}, dict[str, int]),
        (Person(name="Ada", age=36), Person),
        (Point(1, 2), Point),
        (Pair("x", 3), Pair),
        (True, bool),
        (4, int),
        ("negative", Literal["positive", "negative"]),
    ]:
        assert parse_value(render_output_value(value), tp) == value, value


@pytest.mark.parametrize(
    ("tp", "text"),
    [
        (str, "str"),
        (list[str], "list[str]"),
        (dict[str, int], "dict[str, int]"),
        (Literal["a", "b"], "Literal['a', 'b']"),
        (int | None, "int | None"),
        (Person, "Person"),
    ],
)
def test_type_repr(tp, text):
    assert type_repr(tp) == text


@pytest.mark.parametrize(
    ("tp", "hint"),
    [
        (str, ""),
        (int, "an integer"),
        (float, "a number"),
        (bool, "yes or no"),
        (Literal["positive", "negative"], "one of: positive, negative"),
        (Color, "one of: red"),
        (list[int], "a JSON list of int"),
        (dict[str, int], "a JSON object"),
        (Person, "a JSON object"),
        (int | None, "an integer, or None"),
        (str | None, "text, or None"),
    ],
)
def test_describe_type(tp, hint):
    assert describe_type(tp) == hint


def test_closed_types():
    assert all(is_closed_type(t) for t in (int, float, bool, Literal["a"], Color))
    assert not any(is_closed_type(t) for t in (str, list[int], Person))
