"""The class form, and Signature as an immutable value: equality, hashes, describe()."""

from __future__ import annotations

import copy
import json
from typing import Literal

import pydantic
import pytest

import lmdsl
from lmdsl import InputField, OutputField, Signature, SignatureError, signature
from lmdsl.signatures import as_signature


class Person(pydantic.BaseModel):
    name: str


class GenerateAnswer(Signature):
    """Answer questions with short factoid answers."""

    context: list[str] = InputField(desc="may contain relevant facts")
    question = InputField()
    answer: int = OutputField(desc="often between 1 and 5 words")


class Unannotated(Signature):
    """Summarise."""

    text = InputField(desc="the text")
    summary = OutputField()


class WithModel(Signature):
    """Extract."""

    text: str = InputField()
    person: Person = OutputField()  # resolved although this module uses future annotations


# ---- class form -----------------------------------------------------------------------
def test_class_form_with_annotations():
    sig = as_signature(GenerateAnswer)
    assert sig.name == "GenerateAnswer"
    assert sig.instructions == "Answer questions with short factoid answers."
    assert [(f.name, f.type, f.desc) for f in sig.inputs.values()] == [
        ("context", list[str], "may contain relevant facts"),
        ("question", str, ""),
    ]
    assert [(f.name, f.type, f.desc) for f in sig.outputs.values()] == [("answer", int, "often between 1 and 5 words")]


def test_class_form_without_annotations_defaults_to_str():
    sig = as_signature(Unannotated)
    assert {n: f.type for n, f in sig.fields.items()} == {"text": str, "summary": str}


def test_class_form_resolves_model_annotations():
    assert as_signature(WithModel).outputs["person"].type is Person


def test_class_attributes_forward_to_the_value():
    # QA.inputs must be the fields, not Signature's property object
    assert list(GenerateAnswer.inputs) == ["context", "question"]
    assert list(GenerateAnswer.outputs) == ["answer"]
    assert GenerateAnswer.instructions == "Answer questions with short factoid answers."
    assert GenerateAnswer.name == "GenerateAnswer"
    assert GenerateAnswer.describe() == as_signature(GenerateAnswer).describe()
    assert GenerateAnswer.with_instructions("Be brief.").instructions == "Be brief."
    assert list(GenerateAnswer.prepend_output("reasoning").outputs) == ["reasoning", "answer"]
    assert GenerateAnswer.content_hash == as_signature(GenerateAnswer).content_hash


def test_class_form_equals_its_value_and_predict_accepts_it():
    assert as_signature(GenerateAnswer) == GenerateAnswer
    assert lmdsl.Predict(GenerateAnswer).signature == as_signature(GenerateAnswer)


def test_class_form_input_default():
    class S(Signature):
        """Do."""

        q = InputField()
        k: int = InputField(default=3)
        a = OutputField()

    assert S.inputs["k"].required is False and S.inputs["k"].default == 3
    assert S.inputs["q"].required is True


def test_class_form_errors():
    with pytest.raises(SignatureError, match=r"^S: annotated attribute 'x' needs InputField\(\) or OutputField\(\)$"):

        class S(Signature):
            """Do."""

            x: int
            a = OutputField()

    with pytest.raises(SignatureError, match=r"^T: a signature needs at least one output field$"):

        class T(Signature):
            q = InputField()

    with pytest.raises(SignatureError, match=r"^U: 'a' is both an input and an output$"):
        Signature([lmdsl.Field("a")], [lmdsl.Field("a", kind="output")], name="U")


def test_string_annotation_in_class_form_uses_the_safe_type_parser():
    ns = {"__annotations__": {"a": "Literal['x', 'y']"}, "__doc__": "Do.", "q": InputField(), "a": OutputField()}
    S = type(Signature)("S", (Signature,), ns)
    assert S.outputs["a"].type == Literal["x", "y"]


# ---- value semantics ------------------------------------------------------------------
def test_immutable():
    sig = signature("a -> b")
    with pytest.raises(AttributeError, match="Signature is immutable"):
        sig.instructions = "x"
    with pytest.raises(TypeError):
        sig.inputs["c"] = None  # type: ignore[index]
    with pytest.raises(AttributeError):
        sig.outputs["b"].desc = "changed"  # Field is frozen


def test_copies_are_the_value_itself():
    sig = signature("a -> b")
    assert copy.copy(sig) is sig
    assert copy.deepcopy(sig) is sig
    assert copy.deepcopy({"s": sig})["s"] is sig


def test_derivations_return_new_values():
    sig = signature("question -> answer: int", instructions="Answer.")
    sig2 = sig.with_instructions("Answer in digits.")
    assert sig2.instructions == "Answer in digits." and sig.instructions == "Answer."
    assert sig2.structure_hash == sig.structure_hash and sig2.content_hash != sig.content_hash

    cot = sig.prepend_output("reasoning", str, "think")
    assert list(cot.outputs) == ["reasoning", "answer"] and list(sig.outputs) == ["answer"]
    assert cot.outputs["reasoning"].desc == "think"

    more = sig.append_input("hint", str, default=None)
    assert list(more.inputs) == ["question", "hint"] and more.inputs["hint"].required is False


def test_equality():
    a = signature("question -> answer: int", instructions="Answer.")
    assert a == signature("question -> answer: int", instructions="Answer.")
    assert a != signature("question -> answer: float", instructions="Answer.")
    assert a != signature("question -> answer: int", instructions="Reply.")
    assert a != signature("query -> answer: int", instructions="Answer.")
    assert a != "question -> answer: int"
    assert len({a, signature("question -> answer: int", instructions="Answer.")}) == 1


def test_content_hash_is_stable_across_processes():
    sig = signature("context: list[str], question -> answer: int", instructions="Answer.")
    # a fixed value: the hash depends on content only (no ids, no PYTHONHASHSEED)
    assert sig.content_hash == signature(
        "context: list[str], question -> answer: int", instructions="Answer."
    ).content_hash
    assert len(sig.content_hash) == 16
    import subprocess
    import sys

    code = (
        "import lmdsl;print(lmdsl.signature('context: list[str], question -> answer: int',"
        " instructions='Answer.').content_hash)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "PYTHONHASHSEED": "123"}).stdout.strip()
    assert out == sig.content_hash


def test_structure_hash_ignores_descriptions_and_instructions():
    a = signature("q -> a: int", instructions="One.")
    b = signature("q -> a: int", instructions="Two.")
    assert a.structure_hash == b.structure_hash
    assert a.structure_hash != signature("q -> a: str").structure_hash


def test_describe_is_json_able():
    sig = as_signature(GenerateAnswer)
    data = sig.describe()
    assert json.loads(json.dumps(data)) == data
    assert data == {
        "name": "GenerateAnswer",
        "instructions": "Answer questions with short factoid answers.",
        "inputs": [
            {"name": "context", "type": "list[str]", "desc": "may contain relevant facts", "kind": "input"},
            {"name": "question", "type": "str", "desc": "", "kind": "input"},
        ],
        "outputs": [{"name": "answer", "type": "int", "desc": "often between 1 and 5 words", "kind": "output"}],
    }


def test_repr_and_labels():
    sig = signature("search_query, URL -> answer: int")
    assert repr(sig) == "Signature(Signature: search_query: str, URL: str -> answer: int)"
    assert sig.inputs["search_query"].label == "Search Query"
    assert sig.inputs["URL"].label == "URL"
