"""``"context: list[str], question -> answer: int"``: the string form of a signature."""

from __future__ import annotations

import ast
import builtins
import datetime
import decimal
import typing
from typing import Any

from lmdsl.errors import SignatureError
from lmdsl.signatures.field import Field, FieldKind

_SAFE_NAMES: dict[str, Any] = {
    **{n: getattr(builtins, n) for n in ("str", "int", "float", "bool", "list", "dict", "tuple", "set", "bytes")},
    **{n: getattr(typing, n) for n in ("Any", "Literal", "Optional", "Union", "List", "Dict", "Tuple", "Set")},
    "None": None,
    "date": datetime.date,
    "datetime": datetime.datetime,
    "Decimal": decimal.Decimal,
}


def parse_type(expr: str, owner: str = "signature", names: dict[str, Any] | None = None) -> Any:
    """Evaluate a type expression without ``eval``: only known names, subscripts, ``|`` and literals."""
    namespace = {**_SAFE_NAMES, **(names or {})}
    expr = expr.strip()
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        raise SignatureError(f"{owner}: cannot read type {expr!r}") from None

    def build(node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            if node.id not in namespace:
                raise SignatureError(
                    f"{owner}: unknown type {node.id!r} in {expr!r} (pass custom types with types={{...}})"
                )
            return namespace[node.id]
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise SignatureError(f"{owner}: private attribute {node.attr!r} in type {expr!r}")
            return getattr(build(node.value), node.attr)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Subscript):
            base = build(node.value)
            sl = node.slice
            args = tuple(build(e) for e in sl.elts) if isinstance(sl, ast.Tuple) else build(sl)
            return base[args]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return typing.Union[build(node.left), build(node.right)]  # noqa: UP007
        if isinstance(node, ast.Tuple):
            return tuple(build(e) for e in node.elts)
        raise SignatureError(f"{owner}: unsupported construct in type {expr!r}")

    return build(tree.body)


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    quote: str | None = None
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _fields(side: str, kind: FieldKind, spec: str, names: dict[str, Any] | None) -> list[Field]:
    if not side.strip():
        return []
    fields = []
    for item in _split_top_level(side):
        if not item:
            raise SignatureError(f"signature {spec!r}: empty field name (stray comma?)")
        name, _, type_text = item.partition(":")
        name = name.strip()
        if not name.isidentifier():
            raise SignatureError(f"signature {spec!r}: {name!r} is not a valid field name")
        tp = parse_type(type_text, f"signature {spec!r}", names) if type_text.strip() else str
        fields.append(Field(name, tp, "", kind))
    return fields


def parse_signature_string(
    spec: str, instructions: str = "", name: str = "Signature", types: dict[str, Any] | None = None
):
    """Build a Signature from ``"inputs -> outputs"``."""
    from lmdsl.signatures.signature import Signature

    if spec.count("->") != 1:
        raise SignatureError(f"signature {spec!r}: expected exactly one '->' between inputs and outputs")
    left, right = spec.split("->")
    if not right.strip():
        raise SignatureError(f"signature {spec!r}: no output fields after '->'")
    return Signature(_fields(left, "input", spec, types), _fields(right, "output", spec, types), instructions, name)
