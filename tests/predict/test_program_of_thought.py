"""ProgramOfThought: code -> sandbox -> (error -> regenerate) -> answer, driven by ScriptedLM.

The feedback loop and arithmetic run through the real sandbox (skipped, with the reason,
when its runtime is not installed); limits and edge cases use a stub with the same API.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import pytest

import lmdsl
from lmdsl import ChainOfThought, signature
from lmdsl.errors import ConfigError, SignatureError
from lmdsl.predict.program_of_thought import (
    ProgramOfThought,
    ProgramOfThoughtError,
    clean_code,
    format_output,
    shared_sandbox,
)
from lmdsl.sandbox import SandboxResult, find_runtime

MATH = signature("question -> answer: float", instructions="Solve the math word problem.")


class Report(NamedTuple):
    answer: int
    explanation: str


@signature
def solve_with_report(question: str) -> Report:
    """Solve it and explain."""


@pytest.fixture(scope="module")
def real_sandbox():
    try:
        find_runtime()
    except ConfigError as exc:
        pytest.skip(f"sandbox runtime not installed: {exc}")
    from lmdsl.sandbox import Sandbox

    sandbox = Sandbox(timeout=10, memory_mb=256, pool_size=2)  # the next worker boots while one runs
    sandbox.start()
    yield sandbox
    sandbox.close()


class StubSandbox:
    """Same API as lmdsl.sandbox.Sandbox: ``run(code) -> SandboxResult``; answers scripted per run."""

    def __init__(self, results):
        self.results = list(results)
        self.codes: list[str] = []

    def run(self, code: str) -> SandboxResult:
        self.codes.append(code)
        return self.results.pop(0)


def ok(value=None, stdout="") -> SandboxResult:
    return SandboxResult(stdout, value, None, 0.01)


def failed(error: str, stderr: str = "") -> SandboxResult:
    return SandboxResult("", None, error, 0.01, stderr)


def code(text: str, reasoning: str = "compute it") -> dict:
    return {"reasoning": reasoning, "generated_code": text}


def user_message(lm, call: int) -> str:
    return lm.requests[call][-1]["content"]


# ---- through the real sandbox -------------------------------------------------------------
def test_error_feedback_loop(scripted, real_sandbox):
    lm = scripted([code("total = 12 * 3\nper_box = total / 0\nper_box"), code("total = 12 * 3\ntotal / 4", "fix")])
    pot = ProgramOfThought(MATH, sandbox=real_sandbox)
    pred = pot(question="12 packs of 3 eggs shared by 4 people?")
    assert pred.answer == 9.0
    assert pred.generated_code == "total = 12 * 3\ntotal / 4"
    assert pred.code_output == "9.0" and pred.reasoning == "fix"
    assert [a["error"] is None for a in pred.attempts] == [False, True]
    assert pred.attempts[0]["error"].endswith("ZeroDivisionError: division by zero")
    # the second call is the regenerate step and shows the failed code and the error text
    assert len(lm.history) == 2
    second = user_message(lm, 1)
    assert "Previous Code:\ntotal = 12 * 3\nper_box = total / 0\nper_box" in second
    assert "ZeroDivisionError: division by zero" in second
    assert 'File "<sandbox>", line 2' in second  # the traceback points at the line
    assert "failed with the error shown" in lm.requests[1][0]["content"]


def test_arithmetic_and_stdlib_in_the_sandbox(scripted, real_sandbox):
    scripted([code("import math\nfrom fractions import Fraction\nprint('steps')\nmath.comb(6, 2) + float(Fraction(1, 4))")])
    pred = ProgramOfThought(MATH, sandbox=real_sandbox)(question="q")
    assert pred.answer == 15.25
    assert pred.code_output == "steps\n15.25"


def test_extract_step_for_text_outputs(scripted, real_sandbox):
    lm = scripted([code("print(sum(range(1, 5)))"), {"reasoning": "printed 10", "answer": 10, "explanation": "sum"}])
    pot = ProgramOfThought(solve_with_report, sandbox=real_sandbox)
    assert not pot.direct
    pred = pot(question="1+2+3+4?")
    assert (pred.answer, pred.explanation, pred.reasoning) == (10, "sum", "printed 10")
    extract_prompt = user_message(lm, 1)
    assert "Generated Code: print(sum(range(1, 5)))" in extract_prompt
    assert "Code Output: 10" in extract_prompt


# ---- the loop's rules (stub sandbox) ------------------------------------------------------
def test_max_iters_reached_is_a_clear_error(scripted):
    lm = scripted([code("x = ("), code("1/0"), code("undefined_name")])
    stub = StubSandbox([
        failed("SyntaxError: '(' was never closed"),
        failed("ZeroDivisionError: division by zero"),
        failed("NameError: name 'undefined_name' is not defined"),
    ])
    with pytest.raises(ProgramOfThoughtError) as info:
        ProgramOfThought(MATH, max_iters=3, sandbox=stub)(question="q")
    err = info.value
    assert str(err) == (
        "ProgramOfThought: no working code after 3 attempt(s) (max_iters=3); "
        "last error: NameError: name 'undefined_name' is not defined"
    )
    assert isinstance(err, lmdsl.LmdslError)
    assert err.code == "undefined_name" and [a["code"] for a in err.attempts] == ["x = (", "1/0", "undefined_name"]
    assert len(lm.history) == 3 and stub.codes == ["x = (", "1/0", "undefined_name"]
    # each regeneration sees the latest error
    assert "SyntaxError: '(' was never closed" in user_message(lm, 1)
    assert "ZeroDivisionError" in user_message(lm, 2)


def test_timeout_is_fed_back(scripted):
    lm = scripted([code("while True: pass"), code("7 * 6")])
    stub = StubSandbox([failed("TimeoutError: exceeded 10.0 s"), ok(42)])
    pred = ProgramOfThought(MATH, sandbox=stub)(question="q")
    assert pred.answer == 42.0
    assert "Error: TimeoutError: exceeded 10.0 s" in user_message(lm, 1)


def test_no_result_and_unparseable_result_are_fed_back(scripted):
    lm = scripted([code("x = 5"), code("'about five'"), code("print('The answer is 5.5')")])
    stub = StubSandbox([ok(None, ""), ok("about five"), ok(None, "The answer is 5.5\n")])
    pred = ProgramOfThought(MATH, sandbox=stub)(question="q")
    assert pred.answer == 5.5  # a number found in the printed line
    assert "produced no result: end it with an expression" in user_message(lm, 1)
    assert "its result 'about five' is not a number" in user_message(lm, 2)


def test_empty_code_is_an_error_without_running(scripted):
    scripted([code("```python\n```"), code("2 + 2")])
    stub = StubSandbox([ok(4)])
    pred = ProgramOfThought(MATH, sandbox=stub)(question="q")
    assert pred.answer == 4.0 and pred.attempts[0]["error"] == "the reply contained no code"
    assert stub.codes == ["2 + 2"]


def test_unreadable_reply_counts_as_a_failed_attempt(scripted):
    with lmdsl.context(max_reasks=0):
        lm = scripted(["Reasoning: I will think about it for a long", code("6 * 7")])
        pred = ProgramOfThought(MATH, sandbox=StubSandbox([ok(42)]))(question="q")
    assert pred.answer == 42.0
    assert pred.attempts[0]["error"].startswith("the reply could not be read (")
    assert "Generated Code" in pred.attempts[0]["error"]
    assert "Error: the reply could not be read" in user_message(lm, 1)


def test_without_reasoning_the_code_comes_first(scripted):
    pot = ProgramOfThought(MATH, reasoning=False, sandbox=StubSandbox([ok(3)]))
    assert type(pot.generate) is lmdsl.Predict and list(pot.generate.signature.outputs) == ["generated_code"]
    scripted([{"generated_code": "1 + 2"}])
    pred = pot(question="q")
    assert pred.answer == 3.0 and pred.reasoning == ""


def test_max_iters_one_means_no_regeneration(scripted):
    lm = scripted([code("1/0")])
    with pytest.raises(ProgramOfThoughtError, match="after 1 attempt"):
        ProgramOfThought(MATH, max_iters=1, sandbox=StubSandbox([failed("ZeroDivisionError: x")]))(question="q")
    assert len(lm.history) == 1


def test_clean_code_and_output_text():
    assert clean_code("```python\nx = 1\nx\n```") == "x = 1\nx"
    assert clean_code("Here it is:\n```py\nprint(2)\n```\nDone.") == "print(2)"
    assert clean_code("`3 * 4`") == "3 * 4"
    assert clean_code("```\n1 + 1") == "1 + 1"  # unclosed fence
    assert clean_code("a = 2; a * 3") == "a = 2; a * 3"
    assert format_output("hi\n", 3) == "hi\n3"
    assert format_output("", None) == "(no output)"


# ---- construction -------------------------------------------------------------------------
def test_direct_or_extract_choice():
    assert ProgramOfThought(MATH).direct
    assert ProgramOfThought("question -> answer: int | None").direct
    assert not ProgramOfThought("question -> answer").direct  # free text goes through extract
    assert not ProgramOfThought(MATH, extract=True).direct
    with pytest.raises(SignatureError, match="extract=False"):
        ProgramOfThought("question -> answer", extract=False)
    with pytest.raises(SignatureError, match="error"):
        ProgramOfThought("question, error -> answer: int")
    with pytest.raises(ValueError, match="max_iters"):
        ProgramOfThought(MATH, max_iters=0)


def test_predictors_and_prompts():
    pot = ProgramOfThought(MATH)
    assert [p for p, _ in pot.named_predictors()] == ["generate", "regenerate", "extract"]
    assert all(isinstance(p, ChainOfThought) for p in pot.predictors())
    system = pot.generate.render(question="q")[0]["content"]
    assert system.startswith("Solve the math word problem.\n\nWrite Python code that computes `answer`.")
    assert "standard library only" in system


def test_copies_share_the_sandbox_and_default_is_shared():
    stub = StubSandbox([])
    pot = ProgramOfThought(MATH, sandbox=stub)
    clone = pot.deepcopy()
    assert clone.sandbox is stub and clone.generate is not pot.generate
    assert copy.deepcopy(ProgramOfThought(MATH)).sandbox is None
    assert shared_sandbox(7.0, 128) is shared_sandbox(7, 128)


def test_registered_as_a_module():
    assert lmdsl.get_module("ProgramOfThought") is ProgramOfThought


def test_config_goes_to_the_inner_predictors():
    pot = ProgramOfThought(MATH, max_tokens=64, temperature=0.0)
    assert all(p.config == {"max_tokens": 64, "temperature": 0.0} for p in pot.predictors())
