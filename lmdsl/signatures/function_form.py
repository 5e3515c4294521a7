"""``@signature`` on a function: parameters are inputs, the return annotation gives the outputs."""

from __future__ import annotations

import builtins
import inspect
import typing
from typing import Any, get_type_hints

from lmdsl.errors import SignatureError
from lmdsl.signatures.field import MISSING, Field
from lmdsl.signatures.signature import Signature
from lmdsl.values.describe import type_repr
from lmdsl.values.introspect import is_namedtuple, is_typeddict


def parse_docstring(func: Any) -> Any:
    """``func``'s docstring parsed by docstring_parser (Google, NumPy, reST)."""
    import docstring_parser

    return docstring_parser.parse(inspect.getdoc(func) or "")


def docstring_instructions(doc: Any) -> str:
    """The prose of a parsed docstring (summary and body, without Args/Returns): a signature's instructions."""
    parts = [doc.short_description or "", doc.long_description or ""]
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def _return_entries(doc: Any, ret_type: Any = None) -> list[tuple[str | None, str]]:
    """(name, description) of each documented return value.

    docstring-parser reads a Google ``Returns:`` line ``answer: often 1-5 words`` as
    type_name='answer', so the type slot holds the output's name there -- unless it names
    a type (``str: the answer``, NumPy ``int``, reST ``:rtype: int``), which is no name.
    """
    entries = []
    for ret in doc.many_returns or ([doc.returns] if doc.returns else []):
        name = ret.return_name
        if not name and ret.type_name and not _names_a_type(ret.type_name, ret_type):
            name = ret.type_name
        entries.append((name if name and name.isidentifier() else None, (ret.description or "").strip()))
    return entries


def _names_a_type(text: str, ret_type: Any) -> bool:
    if text in (type_repr(ret_type), getattr(ret_type, "__name__", None)):
        return True
    if isinstance(getattr(builtins, text, None), type):
        return True
    return text[:1].isupper() and hasattr(typing, text)


def closure_vars(func: Any) -> dict[str, Any]:
    """The enclosing-function variables ``func`` closes over (names its body uses)."""
    code = getattr(func, "__code__", None)
    cells = getattr(func, "__closure__", None) or ()
    out: dict[str, Any] = {}
    for name, cell in zip(getattr(code, "co_freevars", ()), cells, strict=False):
        try:
            out[name] = cell.cell_contents
        except ValueError:  # a cell not filled yet (a name assigned after the def)
            pass
    return out


def resolve_hints(func: Any, localns: dict[str, Any] | None = None) -> dict[str, Any]:
    """``func``'s annotations as types: its module's globals, then ``localns`` and its closure.

    Under ``from __future__ import annotations`` the annotations are strings; a type defined
    inside an enclosing function is not in the module's globals, so the ``@signature``
    decorator passes the locals of the frame it was applied in as ``localns``.
    """
    fname = getattr(func, "__qualname__", getattr(func, "__name__", "function"))
    scope = {**(localns or {}), **closure_vars(func)}
    try:
        return get_type_hints(func, localns=scope or None, include_extras=False)
    except Exception as exc:
        raise SignatureError(f"@signature {fname}: cannot resolve type hints ({exc})") from None


def signature_from_function(func: Any, localns: dict[str, Any] | None = None) -> Signature:
    """The signature of a typed function; ``localns`` resolves names local to where it was defined."""
    fname = getattr(func, "__qualname__", getattr(func, "__name__", "function"))
    hints = resolve_hints(func, localns)
    try:
        doc = parse_docstring(func)
    except Exception as exc:
        raise SignatureError(f"@signature {fname}: cannot parse the docstring ({exc})") from None
    param_docs = {p.arg_name: (p.description or "").strip() for p in doc.params}
    inputs = []
    for p in inspect.signature(func).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise SignatureError(f"@signature {fname}: *args/**kwargs cannot be fields ({p.name})")
        default = MISSING if p.default is p.empty else p.default
        inputs.append(Field(p.name, hints.get(p.name, str), param_docs.get(p.name, ""), "input", default))
    if "return" not in hints:
        raise SignatureError(f"@signature {fname}: needs a return annotation (the output type)")
    ret = hints["return"]
    if ret is None or ret is type(None):
        raise SignatureError(f"@signature {fname}: return annotation None has no output to predict")
    entries = _return_entries(doc, ret)
    outputs = _outputs_from_return(fname, ret, entries)
    return Signature(inputs, outputs, docstring_instructions(doc), getattr(func, "__name__", "Signature"))


def _outputs_from_return(fname: str, ret: Any, entries: list[tuple[str | None, str]]) -> list[Field]:
    descs = {name: desc for name, desc in entries if name}
    if is_namedtuple(ret) or is_typeddict(ret):
        member_hints = typing.get_type_hints(ret)
        members = ret._fields if is_namedtuple(ret) else list(member_hints)
        if not members:
            raise SignatureError(f"@signature {fname}: {ret.__name__} has no fields")
        member_docs = _member_docs(ret)
        return [
            Field(m, member_hints.get(m, str), descs.get(m) or member_docs.get(m, ""), "output") for m in members
        ]
    name, desc = entries[0] if entries else (None, "")
    return [Field(name or "output", ret, desc, "output")]


def _member_docs(cls: type) -> dict[str, str]:
    """Descriptions of NamedTuple/TypedDict members from the class docstring's Attributes section."""
    try:
        doc = parse_docstring(cls)
    except Exception:
        return {}
    return {p.arg_name: (p.description or "").strip() for p in doc.params}
