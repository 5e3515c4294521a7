"""``@signature`` on a function: inputs from parameters, outputs from the return annotation,
instructions and descriptions from the docstring (Google, NumPy, reST)."""

from __future__ import annotations

from typing import Literal, NamedTuple, TypedDict

import pytest

import lmdsl
from lmdsl import SignatureError, signature
from lmdsl.signatures import as_signature
from lmdsl.signatures.function_form import signature_from_function


class Answer(NamedTuple):
    """An answer with its rationale.

    Attributes:
        rationale: why the answer is right.
        answer: a short factoid.
    """

    rationale: str
    answer: int


class Verdict(TypedDict):
    label: Literal["yes", "no"]
    confidence: float


def outputs(sig):
    return [(f.name, f.type, f.desc) for f in sig.outputs.values()]


def inputs(sig):
    return [(f.name, f.type, f.desc, f.required) for f in sig.inputs.values()]


def test_google_docstring():
    @signature
    def generate_answer(context: list[str], question: str) -> str:
        """Answer questions with short factoid answers.

        Prefer the context over prior knowledge.

        Args:
            context: passages that may contain the answer.
            question: the question to answer.

        Returns:
            answer: often 1-5 words
        """

    sig = generate_answer.signature
    assert sig.name == "generate_answer"
    assert sig.instructions == "Answer questions with short factoid answers.\n\nPrefer the context over prior knowledge."
    assert inputs(sig) == [
        ("context", list[str], "passages that may contain the answer.", True),
        ("question", str, "the question to answer.", True),
    ]
    # docstring-parser reports the Returns name as type_name: it names the output
    assert outputs(sig) == [("answer", str, "often 1-5 words")]


def test_numpy_docstring():
    @signature
    def count_items(question: str) -> int:
        """Count the items mentioned.

        Parameters
        ----------
        question : str
            the question.

        Returns
        -------
        count : int
            how many items.
        """

    assert count_items.signature.instructions == "Count the items mentioned."
    assert inputs(count_items.signature) == [("question", str, "the question.", True)]
    assert outputs(count_items.signature) == [("count", int, "how many items.")]


def test_rest_docstring():
    @signature
    def count_items(question: str) -> int:
        """Count the items mentioned.

        :param question: the question.
        :returns: how many items.
        """

    assert inputs(count_items.signature) == [("question", str, "the question.", True)]
    assert outputs(count_items.signature) == [("output", int, "how many items.")]


@pytest.mark.parametrize(
    "doc",
    [
        "Count.\n\nReturns:\n    int: how many items.\n",
        "Count.\n\nReturns\n-------\nint\n    how many items.\n",
        "Count.\n\n:returns: how many items.\n:rtype: int\n",
    ],
    ids=["google", "numpy", "rest"],
)
def test_a_documented_return_type_is_not_taken_for_a_name(doc):
    def count(question: str) -> int: ...

    count.__doc__ = doc
    assert outputs(signature_from_function(count)) == [("output", int, "how many items.")]


def test_no_docstring_gives_default_instructions_and_output_name():
    @signature
    def f(a, b: int) -> bool: ...

    sig = f.signature
    assert sig.instructions == "Given the fields `a`, `b`, produce the fields `output`."
    assert inputs(sig) == [("a", str, "", True), ("b", int, "", True)]  # no annotation means str
    assert outputs(sig) == [("output", bool, "")]


def test_namedtuple_return_gives_one_output_per_member():
    @signature
    def qa(question: str) -> Answer:
        """Answer."""

    assert outputs(qa.signature) == [
        ("rationale", str, "why the answer is right."),
        ("answer", int, "a short factoid."),
    ]


def test_typeddict_return_gives_one_output_per_member():
    @signature
    def judge(claim: str) -> Verdict:
        """Judge the claim.

        Returns:
            label: is the claim true
        """

    assert outputs(judge.signature) == [
        ("label", Literal["yes", "no"], "is the claim true"),
        ("confidence", float, ""),
    ]


def test_defaults_make_inputs_optional():
    @signature
    def f(question: str, context: list[str] | None = None, k: int = 3) -> str: ...

    req = {n: (fld.required, fld.default) for n, fld in f.signature.inputs.items()}
    assert req["question"][0] is True
    assert req["context"] == (False, None)
    assert req["k"] == (False, 3)


def test_the_body_never_runs(scripted):
    ran = []

    @signature
    def classify(sentence: str) -> Literal["positive", "negative"]:
        """Classify the sentiment."""
        ran.append(True)
        raise AssertionError("the body must never run")

    scripted([{"output": "negative"}])
    assert classify(sentence="dull") == "negative"
    assert ran == []


def test_signature_with_instructions_override():
    @signature(instructions="Say it in French.")
    def translate(text: str) -> str:
        """Translate."""

    assert translate.signature.instructions == "Say it in French."


def test_decorated_function_keeps_its_identity():
    @signature
    def classify(sentence: str) -> str:
        """Classify."""

    assert classify.__name__ == "classify"
    assert classify.__doc__ == "Classify."
    assert "classify" in repr(classify)


# ---- bad definitions fail at decoration time, naming the function --------------------
def test_missing_return_annotation():
    with pytest.raises(SignatureError, match=r"^@signature \S*f: needs a return annotation \(the output type\)$"):

        @signature
        def f(a: str): ...


def test_none_return():
    with pytest.raises(SignatureError, match=r"^@signature \S*f: return annotation None has no output to predict$"):

        @signature
        def f(a: str) -> None: ...


def test_var_args_rejected():
    with pytest.raises(SignatureError, match=r"^@signature \S*f: \*args/\*\*kwargs cannot be fields \(rest\)$"):

        @signature
        def f(a: str, *rest) -> str: ...


def test_input_named_like_an_output():
    with pytest.raises(SignatureError, match=r"^qa: 'answer' is both an input and an output$"):

        @signature
        def qa(answer: str) -> Answer: ...


def test_unresolvable_hint_names_the_function():
    def f(a: NoSuchType) -> str: ...  # noqa: F821

    with pytest.raises(SignatureError, match=r"^@signature .*f: cannot resolve type hints \(name 'NoSuchType'"):
        signature(f)


def test_reserved_and_private_names():
    with pytest.raises(SignatureError, match=r"^f: field name 'demos' is reserved$"):

        @signature
        def f(demos: str) -> str: ...

    with pytest.raises(SignatureError, match=r"^g: field name '_x' is reserved$"):

        @signature
        def g(_x: str) -> str: ...


class Empty(NamedTuple):
    pass


def test_empty_namedtuple():
    with pytest.raises(SignatureError, match=r"^@signature \S*f: Empty has no fields$"):

        @signature
        def f(a: str) -> Empty: ...


def test_signature_rejects_other_objects():
    with pytest.raises(TypeError, match="signature\\(\\) takes a function or a string, not int"):
        signature(3)


def test_as_signature_accepts_every_form():
    @signature
    def f(a: str) -> int: ...

    def plain(a: str) -> int: ...

    from_string = as_signature("a -> output: int")
    assert as_signature(f) == f.signature
    assert as_signature(f.signature) is f.signature
    assert as_signature(plain) == f.signature.__class__(f.signature.inputs, f.signature.outputs,
                                                        f.signature.instructions, "plain")
    assert from_string.structure_hash == f.signature.structure_hash
    with pytest.raises(SignatureError, match="cannot make a signature from 3"):
        as_signature(3)


def test_predict_accepts_a_decorated_function():
    @signature
    def f(a: str) -> int:
        """Do."""

    assert lmdsl.Predict(f).signature is f.signature
