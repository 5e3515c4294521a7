"""Readable names and format hints for annotations, used in prompts and error messages."""

from __future__ import annotations

from typing import Any, get_args, get_origin

from lmdsl.values.introspect import (
    is_enum,
    is_literal,
    is_structured,
    is_union,
    literal_choices,
    optional_inner,
)


def type_repr(tp: Any) -> str:
    """``list[str]``, ``Literal['a', 'b']``, ``int | None``: the way a user would write it."""
    if tp is None or tp is type(None):
        return "None"
    if is_literal(tp):
        return "Literal[" + ", ".join(repr(a) for a in get_args(tp)) + "]"
    if is_union(tp):
        return " | ".join(type_repr(a) for a in get_args(tp))
    origin = get_origin(tp)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[" + ", ".join(type_repr(a) for a in get_args(tp)) + "]"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp)


def describe_type(tp: Any) -> str:
    """A short hint of what the model must write for a value of this type ('' for plain text)."""
    inner = optional_inner(tp)
    if inner is not None:
        hint = describe_type(inner)
        return f"{hint}, or None" if hint else "text, or None"
    if tp is str or tp is Any:
        return ""
    if is_literal(tp) or is_enum(tp):
        return "one of: " + ", ".join(str(c) for c in literal_choices(tp))
    if tp is bool:
        return "yes or no"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    origin = get_origin(tp)
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set):
        args = get_args(tp)
        item = type_repr(args[0]) if args else "value"
        return f"a JSON list of {item}"
    if is_structured(tp):
        return "a JSON object"
    return f"a value of type {type_repr(tp)}"


def is_closed_type(tp: Any) -> bool:
    """Types whose whole value is a short token (a label, a number): replies can be kept short."""
    return tp in (int, float, bool) or is_literal(tp) or is_enum(tp)
