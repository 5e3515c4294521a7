"""DSPy's ways of building and editing signatures: inheritance, Signature("a -> b"), field options."""

from __future__ import annotations

import pytest

import lmdsl
from lmdsl import InputField, OutputField, Signature, SignatureError
from lmdsl.signatures import as_signature


class QA(Signature):
    """Answer the question."""

    question: str = InputField(description="a trivia question")
    answer: str = OutputField()


class QAWithConfidence(QA):
    confidence: float = OutputField(desc="between 0 and 1")


class TerseQA(QA):
    """Answer in one word."""


class Untitled(Signature):
    text = InputField()
    label = OutputField()


class UntitledMore(Untitled):
    extra = InputField()


# ---- inheritance ------------------------------------------------------------------------
def test_subclass_keeps_the_parent_fields_and_adds_its_own():
    sig = as_signature(QAWithConfidence)
    assert list(sig.inputs) == ["question"]
    assert list(sig.outputs) == ["answer", "confidence"]
    assert sig.outputs["confidence"].type is float
    assert sig.inputs["question"].desc == "a trivia question"
    assert sig.instructions == "Answer the question."  # inherited: the subclass has no docstring
    assert sig.name == "QAWithConfidence"


def test_subclass_that_only_changes_the_docstring():
    sig = as_signature(TerseQA)
    assert list(sig.fields) == ["question", "answer"]
    assert sig.instructions == "Answer in one word."
    assert as_signature(QA).instructions == "Answer the question."  # the parent is untouched


def test_subclass_redeclaring_a_field_replaces_it_in_place():
    class Numeric(QAWithConfidence):
        answer: int = OutputField(desc="a number")

    sig = as_signature(Numeric)
    assert list(sig.outputs) == ["answer", "confidence"]
    assert sig.outputs["answer"].type is int and sig.outputs["answer"].desc == "a number"


def test_default_instructions_follow_the_inherited_and_new_fields():
    assert "`extra`" in as_signature(UntitledMore).instructions
    assert "`extra`" not in as_signature(Untitled).instructions


def test_inherited_signature_runs_through_predict(scripted):
    scripted([{"answer": "Paris", "confidence": 0.9}])
    pred = lmdsl.Predict(QAWithConfidence)(question="Capital of France?")
    assert (pred.answer, pred.confidence) == ("Paris", 0.9)


# ---- Signature("...") and dict forms ----------------------------------------------------
def test_string_constructor_with_instructions():
    sig = Signature("question, context: list[str] -> answer: int", "Count things.")
    assert list(sig.input_fields) == ["question", "context"]
    assert list(sig.output_fields) == ["answer"]
    assert sig.output_fields["answer"].annotation is int
    assert sig.instructions == "Count things."
    assert Signature("q -> a") == lmdsl.signature("q -> a")


def test_dict_constructor():
    sig = Signature({"q": InputField(desc="query"), "a": OutputField()}, "Reply.")
    assert sig.inputs["q"].description == "query"
    assert list(sig.outputs) == ["a"] and sig.instructions == "Reply."


def test_string_constructor_errors_name_the_problem():
    with pytest.raises(SignatureError, match="'->'"):
        Signature("q, a")
    with pytest.raises(SignatureError, match="instructions"):
        Signature("q -> a", ["not", "text"])


def test_class_attributes_include_dspy_names():
    assert list(QA.input_fields) == ["question"]
    assert list(QA.output_fields) == ["answer"]


# ---- editing ----------------------------------------------------------------------------
def test_append_prepend_insert_delete():
    sig = Signature("question -> answer")
    sig2 = sig.append("context", InputField(desc="facts"), list[str]).prepend("reasoning", OutputField())
    assert list(sig2.inputs) == ["question", "context"] and sig2.inputs["context"].type == list[str]
    assert list(sig2.outputs) == ["reasoning", "answer"]
    sig3 = sig2.insert(1, "hint", InputField())
    assert list(sig3.inputs) == ["question", "hint", "context"]
    assert list(sig3.delete("hint").inputs) == ["question", "context"]
    assert list(sig.fields) == ["question", "answer"]  # values: the original is unchanged
    with pytest.raises(SignatureError, match="no field 'nope'"):
        sig.delete("nope")
    with pytest.raises(SignatureError, match="InputField"):
        sig.append("x", "not a field")


def test_edits_regenerate_default_instructions_but_keep_written_ones():
    plain = Signature("question -> answer").append("context", InputField())
    assert "`context`" in plain.instructions
    written = Signature("question -> answer", "Be brief.").append("context", InputField())
    assert written.instructions == "Be brief."
    assert written.append_instructions("Cite.").instructions == "Be brief.\n\nCite."


def test_with_updated_fields():
    sig = as_signature(QA).with_updated_fields("answer", int, description="a number", prefix="Number:")
    field = sig.outputs["answer"]
    assert (field.type, field.desc, field.prefix, field.label) == (int, "a number", "Number:", "Number")
    with pytest.raises(TypeError, match="unknown change"):
        sig.with_updated_fields("answer", colour="red")


# ---- field options ----------------------------------------------------------------------
def test_field_options_and_their_errors():
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*'ge'"):
        InputField(ge=3)
    with pytest.raises(TypeError, match="desc= or description="):
        OutputField(desc="a", description="b")
    with pytest.raises(TypeError, match="format= must be a function"):
        InputField(format="upper")


def test_prefix_is_the_label_the_model_sees_and_parses(scripted):
    class Prefixed(Signature):
        """Answer."""

        question: str = InputField(prefix="Query:")
        answer: str = OutputField(prefix="Final Answer:")

    lm = scripted(["Final Answer: Paris"])
    predict = lmdsl.Predict(Prefixed)
    assert predict(question="Capital of France?").answer == "Paris"
    user = lm.requests[0][-1]["content"]
    assert user.startswith("Query: Capital of France?")
    assert "Final Answer: <" in lm.requests[0][0]["content"]


def test_format_renders_an_input_value(scripted):
    class Joined(Signature):
        items: list[str] = InputField(format=lambda xs: " | ".join(xs))
        total: int = OutputField()

    lm = scripted([{"total": 2}])
    assert lmdsl.Predict(Joined)(items=["a", "b"]).total == 2
    assert "Items: a | b" in lm.requests[0][-1]["content"]


def test_prefix_changes_the_content_hash_but_not_the_structure():
    a = Signature("q -> a")
    b = a.with_updated_fields("a", prefix="Reply:")
    assert a.structure_hash == b.structure_hash
    assert a.content_hash != b.content_hash


def test_completions_by_field(scripted):
    scripted([{"answer": "Paris"}, {"answer": "Lyon"}])
    pred = lmdsl.Predict("question -> answer", n=2)(question="A French city?")
    assert pred.completions.answer == ["Paris", "Lyon"]
    assert pred.completions[1]["answer"] == "Lyon" and len(pred.completions) == 2
    with pytest.raises(AttributeError, match=r"no field 'nope'.*fields: answer"):
        pred.completions.nope  # noqa: B018
