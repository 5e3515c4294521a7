"""One named, typed input or output of a signature."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from lmdsl.errors import SignatureError
from lmdsl.values import type_repr

_MISSING: Any = object()
FieldKind = Literal["input", "output"]


@dataclass(frozen=True)
class Field:
    """A field: its name, annotation, description and whether it is an input or an output.

    ``prefix`` (DSPy's name) replaces the label the model sees (``"Final Answer:"``);
    ``format`` renders an input value into prompt text instead of the default rendering.
    """

    name: str
    type: Any = str
    desc: str = ""
    kind: FieldKind = "input"
    default: Any = field(default=_MISSING, compare=False)
    prefix: str = ""
    format: Callable[[Any], str] | None = field(default=None, compare=False)

    @functools.cached_property  # a frozen value: computed once per field
    def label(self) -> str:
        """The marker shown to the model: ``search_query`` -> ``Search Query`` (or the prefix)."""
        if self.prefix.strip(" :"):
            return self.prefix.strip().rstrip(":").strip()
        return " ".join(w.capitalize() if w.islower() else w for w in self.name.split("_"))

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    # DSPy spellings, for code ported from it.
    @property
    def annotation(self) -> Any:
        return self.type

    @property
    def description(self) -> str:
        return self.desc

    def describe(self) -> dict[str, Any]:
        data = {"name": self.name, "type": type_repr(self.type), "desc": self.desc, "kind": self.kind}
        if self.prefix:  # only when set, so hashes of prefix-less signatures stay as they were
            data["prefix"] = self.prefix
        return data


@dataclass
class _FieldSpec:
    """What ``InputField()`` / ``OutputField()`` return in a class-form signature."""

    kind: FieldKind
    desc: str = ""
    type: Any = None
    default: Any = _MISSING
    prefix: str = ""
    format: Callable[[Any], str] | None = None

    def to_field(self, name: str, type_: Any = None) -> Field:
        return Field(name, self.type or type_ or str, self.desc, self.kind, self.default, self.prefix, self.format)


def _spec(kind: FieldKind, who: str, desc: str, description: str | None, type_: Any, default: Any,
          prefix: str | None, format: Any, extra: dict[str, Any]) -> _FieldSpec:
    if extra:
        raise SignatureError(
            f"{who}() got unexpected keyword argument(s) {', '.join(map(repr, extra))}; it takes desc= "
            "(or description=), prefix=, format=, type=" + (", default=" if kind == "input" else "")
        )
    if description is not None and desc and description != desc:
        raise SignatureError(f"{who}(): give desc= or description=, not two different texts")
    if format is not None and not callable(format):
        raise SignatureError(f"{who}(): format= must be a function of the value returning text, got {format!r}")
    return _FieldSpec(kind, description if description is not None else desc, type_, default, prefix or "", format)


def InputField(desc: str = "", *, description: str | None = None, default: Any = _MISSING, type: Any = None,
               prefix: str | None = None, format: Callable[[Any], str] | None = None, **extra: Any) -> Any:
    """Declare an input in a class-form signature (``description=`` is DSPy's spelling of ``desc=``)."""
    return _spec("input", "InputField", desc, description, type, default, prefix, format, extra)


def OutputField(desc: str = "", *, description: str | None = None, type: Any = None,
                prefix: str | None = None, format: Callable[[Any], str] | None = None, **extra: Any) -> Any:
    """Declare an output in a class-form signature (``description=`` is DSPy's spelling of ``desc=``)."""
    return _spec("output", "OutputField", desc, description, type, _MISSING, prefix, format, extra)


MISSING = _MISSING
