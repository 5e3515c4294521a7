"""Small predicates over type annotations, shared by rendering, parsing and describing."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

NONE_TYPE = type(None)


def is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def optional_inner(tp: Any) -> Any | None:
    """``Optional[X]`` -> ``X``; anything else -> None."""
    if not is_union(tp):
        return None
    args = [a for a in get_args(tp) if a is not NONE_TYPE]
    if len(args) == len(get_args(tp)):
        return None
    return args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007


def is_namedtuple(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def is_typeddict(tp: Any) -> bool:
    return typing.is_typeddict(tp)


def is_pydantic_model(tp: Any) -> bool:
    # Checked by duck typing so that pydantic is only imported when a model is really used.
    return isinstance(tp, type) and hasattr(tp, "model_validate") and hasattr(tp, "model_json_schema")


def is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def is_structured(tp: Any) -> bool:
    """Types whose values travel as JSON objects."""
    origin = get_origin(tp)
    return (
        origin is dict
        or tp is dict
        or is_pydantic_model(tp)
        or is_dataclass_type(tp)
        or is_typeddict(tp)
        or is_namedtuple(tp)
    )


def literal_choices(tp: Any) -> list[Any]:
    if is_literal(tp):
        return list(get_args(tp))
    if is_enum(tp):
        return [member.value for member in tp]
    return []


def label_choices(tp: Any) -> list[Any] | None:
    """The values of a label type (Literal, Enum, bool), or None for any other type."""
    if tp is bool:
        return [True, False]
    if is_literal(tp) or is_enum(tp):
        return literal_choices(tp)
    return None
