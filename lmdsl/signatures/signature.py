"""`Signature`: an immutable value describing a task's instructions, inputs and outputs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import typing
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from lmdsl.errors import SignatureError
from lmdsl.signatures.field import MISSING, Field, _FieldSpec

RESERVED = frozenset({"demos", "config", "lm", "n"})


def _check_name(owner: str, name: str) -> None:
    if not name.isidentifier():
        raise SignatureError(f"{owner}: field name {name!r} is not a valid identifier")
    if name.startswith("_") or name in RESERVED:
        raise SignatureError(f"{owner}: field name {name!r} is reserved")


class _SignatureMeta(type):
    """Lets ``class QA(Signature): ...`` declare a signature, DSPy style.

    The class statement builds a Signature value and the class forwards attribute access
    to it, so ``QA.inputs`` and ``Predict(QA)`` both work.
    """

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]):
        cls = super().__new__(mcs, name, bases, ns)
        if bases and any(isinstance(b, _SignatureMeta) for b in bases):
            cls._value = Signature._from_class(cls, ns)
        return cls

    def __getattribute__(cls, item: str) -> Any:
        # Signature's own properties and methods would otherwise be found on the class
        # (``QA.inputs`` giving the property object): forward them to the value.
        if item in _FORWARDED:
            value = type.__getattribute__(cls, "__dict__").get("_value")
            if value is not None:
                return getattr(value, item)
        return type.__getattribute__(cls, item)

    def __getattr__(cls, item: str) -> Any:
        value = cls.__dict__.get("_value")
        if value is None:
            raise AttributeError(item)
        return getattr(value, item)


_FORWARDED = frozenset(
    {
        "name", "instructions", "inputs", "outputs", "fields", "with_instructions", "prepend_output",
        "append_input", "describe", "structure_hash", "content_hash",
    }
)


class Signature(metaclass=_SignatureMeta):
    """Instructions plus ordered input and output fields. Immutable; compare by value."""

    __slots__ = ("_hash", "_inputs", "_outputs", "instructions", "name")

    def __init__(
        self,
        inputs: Iterable[Field] | Mapping[str, Field] = (),
        outputs: Iterable[Field] | Mapping[str, Field] = (),
        instructions: str = "",
        name: str = "Signature",
    ):
        ins = list(inputs.values()) if isinstance(inputs, Mapping) else list(inputs)
        outs = list(outputs.values()) if isinstance(outputs, Mapping) else list(outputs)
        seen: dict[str, str] = {}
        for f in ins + outs:
            _check_name(name, f.name)
            if f.name in seen:
                if seen[f.name] != f.kind:
                    raise SignatureError(f"{name}: {f.name!r} is both an input and an output")
                raise SignatureError(f"{name}: duplicate {f.kind} field {f.name!r}")
            seen[f.name] = f.kind
        if not outs:
            raise SignatureError(f"{name}: a signature needs at least one output field")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "instructions", instructions.strip() or _default_instructions(ins, outs))
        object.__setattr__(self, "_inputs", MappingProxyType({f.name: _as(f, "input") for f in ins}))
        object.__setattr__(self, "_outputs", MappingProxyType({f.name: _as(f, "output") for f in outs}))
        object.__setattr__(self, "_hash", None)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("Signature is immutable: use with_instructions() / prepend_output()")

    # Immutable, so copies are the value itself (programs holding signatures are deep-copied).
    def __copy__(self) -> Signature:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Signature:
        return self

    @property
    def inputs(self) -> Mapping[str, Field]:
        return self._inputs

    @property
    def outputs(self) -> Mapping[str, Field]:
        return self._outputs

    @property
    def fields(self) -> dict[str, Field]:
        return {**self._inputs, **self._outputs}

    def with_instructions(self, instructions: str) -> Signature:
        return Signature(self._inputs, self._outputs, instructions, self.name)

    def prepend_output(self, name: str, type_: Any = str, desc: str = "") -> Signature:
        field = Field(name, type_, desc, "output")
        return Signature(self._inputs, [field, *self._outputs.values()], self.instructions, self.name)

    def append_input(self, name: str, type_: Any = str, desc: str = "", default: Any = MISSING) -> Signature:
        field = Field(name, type_, desc, "input", default)
        return Signature([*self._inputs.values(), field], self._outputs, self.instructions, self.name)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (instructions, fields with type names and descriptions)."""
        return {
            "name": self.name,
            "instructions": self.instructions,
            "inputs": [f.describe() for f in self._inputs.values()],
            "outputs": [f.describe() for f in self._outputs.values()],
        }

    @property
    def structure_hash(self) -> str:
        """Hash of the field names and types only: what a saved program must match to load."""
        data = [(f.kind, f.name, f.describe()["type"]) for f in self.fields.values()]
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]

    @property
    def content_hash(self) -> str:
        """Stable hash of the full description (instructions included)."""
        if self._hash is None:
            blob = json.dumps(self.describe(), sort_keys=True).encode()
            object.__setattr__(self, "_hash", hashlib.sha256(blob).hexdigest()[:16])
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _SignatureMeta):
            other = other.__dict__.get("_value")
        if not isinstance(other, Signature):
            return NotImplemented
        return self.describe() == other.describe() and [f.type for f in self.fields.values()] == [
            f.type for f in other.fields.values()
        ]

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}: {f.describe()['type']}" for n, f in self._inputs.items())
        outs = ", ".join(f"{n}: {f.describe()['type']}" for n, f in self._outputs.items())
        return f"Signature({self.name}: {ins} -> {outs})"

    @classmethod
    def _from_class(cls, klass: type, ns: dict[str, Any]) -> Signature:
        hints = ns.get("__annotations__", {})
        if any(isinstance(h, str) for h in hints.values()):
            # ``from __future__ import annotations``: resolve in the class's module when possible.
            with contextlib.suppress(Exception):
                hints = {**hints, **typing.get_type_hints(klass)}
        ins: list[Field] = []
        outs: list[Field] = []
        for attr, spec in ns.items():
            if not isinstance(spec, _FieldSpec):
                continue
            tp = spec.type or hints.get(attr, str)
            if isinstance(tp, str):
                from lmdsl.signatures.string_form import parse_type

                tp = parse_type(tp, owner=klass.__name__)
            field = Field(attr, tp, spec.desc, spec.kind, spec.default)
            (ins if spec.kind == "input" else outs).append(field)
        for attr in hints:
            if attr not in ns:
                raise SignatureError(
                    f"{klass.__name__}: annotated attribute {attr!r} needs InputField() or OutputField()"
                )
        import inspect

        doc = inspect.cleandoc(klass.__doc__ or "")
        return cls(ins, outs, doc, klass.__name__)


def _as(field: Field, kind: str) -> Field:
    if field.kind == kind:
        return field
    return Field(field.name, field.type, field.desc, kind, field.default)  # type: ignore[arg-type]


def _default_instructions(ins: list[Field], outs: list[Field]) -> str:
    given = ", ".join(f"`{f.name}`" for f in ins) or "nothing"
    wanted = ", ".join(f"`{f.name}`" for f in outs)
    return f"Given the fields {given}, produce the fields {wanted}."
