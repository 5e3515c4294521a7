"""`Signature`: an immutable value describing a task's instructions, inputs and outputs."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import typing
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeGuard

from lmdsl.errors import SignatureError
from lmdsl.signatures.field import MISSING, Field, FieldKind, _FieldSpec

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

    _value: Signature  # set on each class-statement signature (not on Signature itself)

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]):
        cls = super().__new__(mcs, name, bases, ns)
        if bases and any(isinstance(b, _SignatureMeta) for b in bases):
            # ``class B(A)`` starts from A's fields and instructions (DSPy's inheritance).
            parents = [b.__dict__["_value"] for b in bases if isinstance(b, _SignatureMeta) and "_value" in b.__dict__]
            cls._value = Signature._from_class(cls, ns, parents)
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
        "append_input", "describe", "structure_hash", "content_hash", "input_fields", "output_fields",
        "append", "prepend", "insert", "delete", "with_updated_fields", "append_instructions",
    }
)


class Signature(metaclass=_SignatureMeta):
    """Instructions plus ordered input and output fields. Immutable; compare by value.

    Besides ``Signature(inputs, outputs, instructions, name)`` with :class:`Field` values,
    DSPy's forms work: ``Signature("question -> answer", "instructions")`` and
    ``Signature({"question": InputField(), "answer": OutputField()}, "instructions")``.
    """

    __slots__ = ("_hash", "_inputs", "_outputs", "instructions", "name")
    name: str
    instructions: str
    _inputs: MappingProxyType[str, Field]
    _outputs: MappingProxyType[str, Field]
    _hash: str | None

    def __init__(
        self,
        inputs: str | Iterable[Field] | Mapping[str, Any] = (),
        outputs: str | Iterable[Field] | Mapping[str, Field] = (),
        instructions: str = "",
        name: str = "Signature",
    ):
        if isinstance(inputs, str) or _is_spec_mapping(inputs):
            if outputs and not isinstance(outputs, str):
                raise SignatureError(
                    f"Signature({inputs!r}, ...): the second argument is the instructions (a string), "
                    f"got {outputs!r}"
                )
            text = outputs if isinstance(outputs, str) and outputs else instructions
            if isinstance(inputs, str):
                from lmdsl.signatures.string_form import parse_signature_string

                parsed = parse_signature_string(inputs, text, name)
                ins, outs = list(parsed.inputs.values()), list(parsed.outputs.values())
            else:
                specs = [spec.to_field(n) for n, spec in inputs.items()]
                ins = [f for f in specs if f.kind == "input"]
                outs = [f for f in specs if f.kind == "output"]
            instructions = text
        else:
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

    # DSPy's names for the same mappings.
    input_fields = inputs
    output_fields = outputs

    def with_instructions(self, instructions: str) -> Signature:
        return Signature(self._inputs, self._outputs, instructions, self.name)

    def prepend_output(self, name: str, type_: Any = str, desc: str = "") -> Signature:
        field = Field(name, type_, desc, "output")
        return Signature(self._inputs, [field, *self._outputs.values()], self.instructions, self.name)

    def append_input(self, name: str, type_: Any = str, desc: str = "", default: Any = MISSING) -> Signature:
        field = Field(name, type_, desc, "input", default)
        return Signature([*self._inputs.values(), field], self._outputs, self.instructions, self.name)

    # ---- DSPy's editing methods: each returns a new Signature ----------------------------
    def append_instructions(self, text: str) -> Signature:
        return self.with_instructions(f"{self.instructions}\n\n{text}".strip())

    def insert(self, index: int, name: str, field: Any, type_: Any = None) -> Signature:
        """Insert ``field`` (``InputField()`` / ``OutputField()`` / a Field) among the inputs or
        outputs at ``index`` (``-1``: last), as DSPy's ``Signature.insert`` does."""
        new = _as_field(self.name, name, field, type_)
        group = list((self._inputs if new.kind == "input" else self._outputs).values())
        if index < 0:
            index = len(group) + index + 1
        if not 0 <= index <= len(group):
            raise SignatureError(f"{self.name}: insert index {index} out of range for {len(group)} {new.kind}s")
        group.insert(index, new)
        if new.kind == "input":
            return Signature(group, self._outputs, self._own_instructions(), self.name)
        return Signature(self._inputs, group, self._own_instructions(), self.name)

    def append(self, name: str, field: Any, type_: Any = None) -> Signature:
        return self.insert(-1, name, field, type_)

    def prepend(self, name: str, field: Any, type_: Any = None) -> Signature:
        return self.insert(0, name, field, type_)

    def delete(self, name: str) -> Signature:
        if name not in self.fields:
            raise SignatureError(f"{self.name}: no field {name!r} to delete (fields: {', '.join(self.fields)})")
        ins = [f for f in self._inputs.values() if f.name != name]
        outs = [f for f in self._outputs.values() if f.name != name]
        return Signature(ins, outs, self._own_instructions(), self.name)

    def with_updated_fields(self, name: str, type_: Any = None, **changes: Any) -> Signature:
        """A copy with field ``name`` changed: its type and any of ``desc``/``description``, ``prefix``, ``format``."""
        if name not in self.fields:
            raise SignatureError(f"{self.name}: no field {name!r} to update (fields: {', '.join(self.fields)})")
        if "description" in changes:
            changes["desc"] = changes.pop("description")
        unknown = set(changes) - {"desc", "prefix", "format"}
        if unknown:
            raise SignatureError(f"with_updated_fields: unknown change(s) {', '.join(sorted(unknown))}; "
                            "use type_=, desc= (or description=), prefix=, format=")
        if type_ is not None:
            changes["type"] = type_

        def update(group: Mapping[str, Field]) -> list[Field]:
            return [dataclasses.replace(f, **changes) if f.name == name else f for f in group.values()]

        return Signature(update(self._inputs), update(self._outputs), self._own_instructions(), self.name)

    def _own_instructions(self) -> str:
        """The instructions unless they are the generated default (which must follow the new fields)."""
        default = _default_instructions(list(self._inputs.values()), list(self._outputs.values()))
        return "" if self.instructions == default else self.instructions

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
        digest = self._hash
        if digest is None:
            blob = json.dumps(self.describe(), sort_keys=True).encode()
            digest = hashlib.sha256(blob).hexdigest()[:16]
            object.__setattr__(self, "_hash", digest)
        return digest

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
    def _from_class(cls, klass: type, ns: dict[str, Any], parents: list[Signature] | None = None) -> Signature:
        hints = ns.get("__annotations__", {})
        if any(isinstance(h, str) for h in hints.values()):
            # ``from __future__ import annotations``: resolve in the class's module when possible.
            with contextlib.suppress(Exception):
                resolved = typing.get_type_hints(klass)  # includes the parents' annotations
                hints = {k: resolved.get(k, v) for k, v in hints.items()}
        # Inherited fields first, in the parents' order; a field redeclared here replaces the
        # inherited one in place (and may move between inputs and outputs).
        fields: dict[str, Field] = {}
        for parent in parents or []:
            for f in parent.fields.values():
                fields.setdefault(f.name, f)
        for attr, spec in ns.items():
            if not isinstance(spec, _FieldSpec):
                continue
            tp = spec.type or hints.get(attr, str)
            if isinstance(tp, str):
                from lmdsl.signatures.string_form import parse_type

                tp = parse_type(tp, owner=klass.__name__)
            fields[attr] = spec.to_field(attr, tp)
        for attr in hints:
            if attr not in ns:
                raise SignatureError(
                    f"{klass.__name__}: annotated attribute {attr!r} needs InputField() or OutputField()"
                )
        import inspect

        if ns.get("__doc__"):
            doc = inspect.cleandoc(ns["__doc__"])
        else:  # a subclass without a docstring keeps its parent's own instructions
            doc = next((p._own_instructions() for p in parents or [] if p._own_instructions()), "")
        ins = [f for f in fields.values() if f.kind == "input"]
        outs = [f for f in fields.values() if f.kind == "output"]
        return cls(ins, outs, doc, klass.__name__)


def _as(field: Field, kind: FieldKind) -> Field:
    if field.kind == kind:
        return field
    return dataclasses.replace(field, kind=kind)


def _is_spec_mapping(value: Any) -> TypeGuard[Mapping[str, _FieldSpec]]:
    return isinstance(value, Mapping) and bool(value) and all(isinstance(v, _FieldSpec) for v in value.values())


def _as_field(owner: str, name: str, field: Any, type_: Any) -> Field:
    if isinstance(field, _FieldSpec):
        return field.to_field(name, type_)
    if isinstance(field, Field):
        return dataclasses.replace(field, name=name, **({"type": type_} if type_ is not None else {}))
    raise SignatureError(f"{owner}: field {name!r} must be InputField() or OutputField(), got {field!r}")


def _default_instructions(ins: list[Field], outs: list[Field]) -> str:
    given = ", ".join(f"`{f.name}`" for f in ins) or "nothing"
    wanted = ", ".join(f"`{f.name}`" for f in outs)
    return f"Given the fields {given}, produce the fields {wanted}."
