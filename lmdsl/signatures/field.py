"""One named, typed input or output of a signature."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal

from lmdsl.values import type_repr

_MISSING: Any = object()
FieldKind = Literal["input", "output"]


@dataclass(frozen=True)
class Field:
    """A field: its name, annotation, description and whether it is an input or an output."""

    name: str
    type: Any = str
    desc: str = ""
    kind: FieldKind = "input"
    default: Any = field(default=_MISSING, compare=False)

    @functools.cached_property  # a frozen value: computed once per field
    def label(self) -> str:
        """The marker shown to the model: ``search_query`` -> ``Search Query``."""
        return " ".join(w.capitalize() if w.islower() else w for w in self.name.split("_"))

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": type_repr(self.type), "desc": self.desc, "kind": self.kind}


@dataclass
class _FieldSpec:
    """What ``InputField()`` / ``OutputField()`` return in a class-form signature."""

    kind: FieldKind
    desc: str = ""
    type: Any = None
    default: Any = _MISSING


def InputField(desc: str = "", *, default: Any = _MISSING, type: Any = None) -> Any:
    """Declare an input in a class-form signature."""
    return _FieldSpec("input", desc, type, default)


def OutputField(desc: str = "", *, type: Any = None) -> Any:
    """Declare an output in a class-form signature."""
    return _FieldSpec("output", desc, type)


MISSING = _MISSING
