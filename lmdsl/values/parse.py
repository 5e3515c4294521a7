"""Parse LM text into an annotated type: lenient where that is safe, precise errors otherwise."""

from __future__ import annotations

import json
import re
import typing
from typing import Any, get_args, get_origin

from lmdsl.errors import ValueParseError
from lmdsl.values.describe import type_repr
from lmdsl.values.introspect import (
    is_dataclass_type,
    is_enum,
    is_literal,
    is_namedtuple,
    is_pydantic_model,
    is_structured,
    is_typeddict,
    is_union,
    literal_choices,
    optional_inner,
)

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_ONLY_NUMBERS = re.compile(r"[-+\d\s,.;]+")
_FENCE = re.compile(r"```(?:[a-zA-Z0-9_+-]*)\s*\n?(.*?)```", re.DOTALL)
_TRUE = {"true", "yes", "y", "1", "correct", "right"}
_FALSE = {"false", "no", "n", "0", "incorrect", "wrong"}
_NONE = {"none", "null", "n/a", ""}


def _fail(field: str | None, tp: Any, text: str, why: str = "") -> ValueParseError:
    shown = text if len(text) <= 200 else text[:200] + "..."
    where = f"field '{field}'" if field else "value"
    reason = f" ({why})" if why else ""
    return ValueParseError(
        f"{where}: expected {type_repr(tp)}, got {shown!r}{reason}",
        field=field,
        text=text,
        expected=type_repr(tp),
    )


def _norm(s: str) -> str:
    return re.sub(r"[^\w\s-]", "", s).strip().lower()


def _parse_choice(text: str, tp: Any, field: str | None) -> Any:
    choices = literal_choices(tp)
    by_norm = {_norm(str(c)): c for c in choices}
    stripped = _norm(text)
    if stripped in by_norm:
        return _as_enum(tp, by_norm[stripped])
    if is_enum(tp):
        for member in tp:
            if _norm(member.name) == stripped:
                return member
    # A small model often answers in a sentence: read it when exactly one allowed value appears
    # (a reply naming several is ambiguous: better re-asked than guessed).
    lowered = text.lower()
    hits = []
    for key, choice in by_norm.items():
        m = re.search(r"(?<![\w-])" + re.escape(key) + r"(?![\w-])", lowered)
        if m:
            hits.append((m.start(), -len(key), key, choice))
    hits.sort()
    named = [h for h in hits if not any(h is not o and h[2] in o[2] for o in hits)]  # "not X" inside "not X Y"
    lead = len(lowered) - len(lowered.lstrip(" \t\n*_\"'`:([-"))
    if len(named) == 1 or (named and named[0][0] == lead):  # one label, or the reply opens with one
        return _as_enum(tp, named[0][3])
    if named:
        raise _fail(field, tp, text, "names several of " + ", ".join(str(h[3]) for h in named))
    raise _fail(field, tp, text, "not one of " + ", ".join(str(c) for c in choices))


def _as_enum(tp: Any, value: Any) -> Any:
    return tp(value) if is_enum(tp) else value


def _parse_number(text: str, tp: type, field: str | None) -> int | float:
    t = text.strip().rstrip(".").replace("$", "").replace("%", "").strip()
    if _THOUSANDS.fullmatch(t):  # "1,234" -> 1234, but never "1,2,3" -> 123
        t = t.replace(",", "")
    try:
        return tp(t) if tp is float else int(t)
    except ValueError:
        pass
    found = _NUMBER.findall(text)
    if not found:
        raise _fail(field, tp, text, "no number in it")
    if len(found) > 1 and _ONLY_NUMBERS.fullmatch(t):
        # "1,2,3" or "12,34" is a list or a decimal comma, not one number: refuse to guess.
        raise _fail(field, tp, text, "several numbers")
    # With several numbers (a worked sum) the last one is the result.
    raw = found[-1].replace(",", "")
    number = float(raw)
    if tp is int:
        if not number.is_integer():
            raise _fail(field, tp, text, f"{raw} is not a whole number")
        return int(number)
    return number


def _parse_bool(text: str, field: str | None) -> bool:
    words = re.findall(r"\w+", text.lower())
    if words and words[0] in _TRUE:
        return True
    if words and words[0] in _FALSE:
        return False
    raise _fail(field, bool, text, "expected yes/no or true/false")


def extract_json(text: str) -> Any:
    """The JSON value in a reply: the whole text, a fenced block, or the first balanced {...}/[...]."""
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    for opener, closer in (("{", "}"), ("[", "]")):
        start = text.find(opener)
        end = text.rfind(closer)
        if start != -1 and end > start:
            candidates.append(text[start : end + 1])
    last_error: Exception | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError as exc:
            last_error = exc
    raise ValueParseError(f"no valid JSON found ({last_error})")


def _parse_list(text: str, tp: Any, field: str | None) -> list[Any]:
    args = get_args(tp)
    item_tp = args[0] if args else Any
    try:
        data = extract_json(text)
    except ValueError:
        data = None
    json_error: ValueParseError | None = None
    if isinstance(data, list):
        try:
            return [_coerce_item(v, item_tp, field) for v in data]
        except ValueParseError as exc:  # maybe "[1] alpha" was a numbered line, not JSON
            json_error = exc
    try:
        return _parse_lines(text, item_tp, field)
    except ValueParseError:
        if json_error is not None:  # report the bad JSON item, not a fragment of the split
            raise json_error from None
        raise


def _parse_lines(text: str, item_tp: Any, field: str | None) -> list[Any]:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    items = [re.sub(r"^(?:\[\d+\]|\d+[.)]|[-*•])\s*", "", ln) for ln in lines]
    if (len(items) == 1 and item_tp is not Any and item_tp is not str) or (len(items) == 1 and "," in items[0]):
        items = [p.strip() for p in items[0].split(",") if p.strip()]
    return [parse_value(i, item_tp, field) for i in items]


def _coerce_item(value: Any, tp: Any, field: str | None) -> Any:
    if tp is Any:
        return value
    if isinstance(value, str):
        return parse_value(value, tp, field)
    return _validate(value, tp, field, json.dumps(value))


def _validate(data: Any, tp: Any, field: str | None, text: str) -> Any:
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(tp).validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or "value"
        raise _fail(field, tp, text, f"{loc}: {first.get('msg')}") from None


def _parse_structured(text: str, tp: Any, field: str | None) -> Any:
    try:
        data = extract_json(text)
    except ValueError as exc:
        raise _fail(field, tp, text, str(exc)) from None
    if is_namedtuple(tp) and isinstance(data, dict):
        hints = typing.get_type_hints(tp)
        try:
            return tp(**{k: _coerce_item(data[k], hints.get(k, Any), _member(field, k)) for k in tp._fields if k in data})
        except TypeError as exc:
            raise _fail(field, tp, text, str(exc)) from None
    if is_typeddict(tp):
        return _parse_typeddict(data, tp, field, text)
    if is_pydantic_model(tp) or is_dataclass_type(tp) or get_origin(tp) is dict or tp is dict:
        return _validate(data, tp, field, text)
    return data


def _parse_typeddict(data: Any, tp: Any, field: str | None, text: str) -> dict[str, Any]:
    # Validated by hand: pydantic refuses typing.TypedDict on Python < 3.12.
    if not isinstance(data, dict):
        raise _fail(field, tp, text, "not a JSON object")
    hints = typing.get_type_hints(tp)
    missing = [k for k in getattr(tp, "__required_keys__", hints) if k not in data]
    if missing:
        raise _fail(field, tp, text, "missing key(s) " + ", ".join(missing))
    return {k: _coerce_item(data[k], hints[k], _member(field, k)) for k in hints if k in data}


def _member(field: str | None, key: str) -> str:
    return f"{field}.{key}" if field else key


def parse_value(text: str, tp: Any, field: str | None = None) -> Any:
    """Parse ``text`` into a value of annotation ``tp``; raise ValueParseError naming the field."""
    if tp is str or tp is Any or tp is None:
        return text.strip()
    inner = optional_inner(tp)
    if inner is not None:
        if text.strip().lower().rstrip(".") in _NONE:
            return None
        return parse_value(text, inner, field)
    if is_literal(tp) or is_enum(tp):
        return _parse_choice(text, tp, field)
    if tp is bool:
        return _parse_bool(text, field)
    if tp in (int, float):
        return _parse_number(text, tp, field)
    origin = get_origin(tp)
    if origin in (list, set, frozenset, tuple) or tp in (list, set, tuple):
        items = _parse_list(text, tp, field)
        return items if origin in (list, None) else (origin or tp)(items)
    if is_structured(tp):
        return _parse_structured(text, tp, field)
    if is_union(tp):
        errors = []
        for option in get_args(tp):
            try:
                return parse_value(text, option, field)
            except ValueParseError as exc:
                errors.append(str(exc))
        raise _fail(field, tp, text, "; ".join(errors))
    if isinstance(tp, type):
        try:
            return tp(text.strip())
        except Exception as exc:
            raise _fail(field, tp, text, str(exc)) from None
    return text.strip()
