"""``signature("context: list[str], question -> answer: int")`` and its error messages."""

from __future__ import annotations

import datetime
from typing import Literal

import pytest

from lmdsl import Signature, SignatureError, signature


def types(sig):
    return {n: f.type for n, f in sig.fields.items()}


def test_basic_string_form():
    sig = signature("context: list[str], question -> answer: int")
    assert isinstance(sig, Signature)
    assert list(sig.inputs) == ["context", "question"]
    assert list(sig.outputs) == ["answer"]
    assert types(sig) == {"context": list[str], "question": str, "answer": int}
    assert sig.instructions == "Given the fields `context`, `question`, produce the fields `answer`."


def test_instructions():
    sig = signature("question -> answer", instructions="  Answer briefly.  ")
    assert sig.instructions == "Answer briefly."


def test_types_in_strings():
    sig = signature(
        "a: Literal['x', 'y'], b: int | None, c: dict[str, list[int]], d: Optional[float], e: date"
        " -> f: bool, g: list[Literal[1, 2]]"
    )
    assert types(sig) == {
        "a": Literal["x", "y"],
        "b": int | None,
        "c": dict[str, list[int]],
        "d": float | None,
        "e": datetime.date,
        "f": bool,
        "g": list[Literal[1, 2]],
    }


def test_commas_inside_brackets_and_quotes_do_not_split_fields():
    sig = signature("a: dict[str, int], b: Literal['x, y', 'z'] -> c")
    assert list(sig.inputs) == ["a", "b"]
    assert sig.inputs["b"].type == Literal["x, y", "z"]


def test_no_inputs():
    sig = signature("-> joke")
    assert dict(sig.inputs) == {} and list(sig.outputs) == ["joke"]


def test_custom_types_by_name():
    class Person:
        pass

    sig = signature("name -> person: Person", types={"Person": Person})
    assert sig.outputs["person"].type is Person


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("a: Foo -> b", "signature 'a: Foo -> b': unknown type 'Foo' in 'Foo' (pass custom types with types={...})"),
        ("a b -> c", "signature 'a b -> c': 'a b' is not a valid field name"),
        ("a -> ", "signature 'a -> ': no output fields after '->'"),
        ("a, b", "signature 'a, b': expected exactly one '->' between inputs and outputs"),
        ("a -> b -> c", "signature 'a -> b -> c': expected exactly one '->' between inputs and outputs"),
        ("a, -> b", "signature 'a, -> b': empty field name (stray comma?)"),
        ("a: list[str -> b", "signature 'a: list[str -> b': cannot read type 'list[str'"),
        ("a: 1+2 -> b", "signature 'a: 1+2 -> b': unsupported construct in type '1+2'"),
        ("a: os.system('x') -> b", "signature \"a: os.system('x') -> b\": unsupported construct in type \"os.system('x')\""),
        ("a: str.__class__ -> b", "signature 'a: str.__class__ -> b': private attribute '__class__' in type 'str.__class__'"),
        ("1a -> b", "signature '1a -> b': '1a' is not a valid field name"),
    ],
)
def test_malformed_strings_name_the_offending_token(spec, message):
    with pytest.raises(SignatureError) as info:
        signature(spec)
    assert str(info.value) == message


def test_duplicate_fields():
    with pytest.raises(SignatureError, match=r"^Signature: duplicate input field 'a'$"):
        signature("a, a -> b")
    with pytest.raises(SignatureError, match=r"^Signature: duplicate output field 'b'$"):
        signature("a -> b, b: int")


def test_input_named_like_an_output():
    with pytest.raises(SignatureError, match=r"^Signature: 'a' is both an input and an output$"):
        signature("a, q -> a")


def test_reserved_field_names():
    with pytest.raises(SignatureError, match=r"^Signature: field name 'lm' is reserved$"):
        signature("lm -> b")
