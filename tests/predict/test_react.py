"""ReAct with typed tools, driven by ScriptedLM: selection, validation, errors as observations, limits."""

from __future__ import annotations

import copy
from typing import Literal

import pytest

import lmdsl
from lmdsl import ChainOfThought, Predict, signature
from lmdsl.errors import SignatureError
from lmdsl.optimizers import BootstrapFewShot
from lmdsl.predict.react import NO_STEPS, ReAct, format_trajectory
from lmdsl.predict.tools import Tool, ToolArgumentError
from lmdsl.testing import ScriptedLM

QA = signature("question -> answer: int", instructions="Answer the arithmetic question.")
CALLS: list[tuple[str, dict]] = []


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first addend.
        b: the second addend.
    """
    CALLS.append(("add", {"a": a, "b": b}))
    return a + b


def multiply(a: int, b: int = 2) -> int:
    """Multiply two integers.

    Args:
        a: the first factor.
        b: the second factor.
    """
    CALLS.append(("multiply", {"a": a, "b": b}))
    return a * b


def divide(a: float, b: float) -> float:
    """Divide a by b."""
    CALLS.append(("divide", {"a": a, "b": b}))
    return a / b


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


def step(tool: str, args: dict | str, thought: str = "next") -> dict:
    return {"next_thought": thought, "next_tool_name": tool, "next_tool_args": args}


FINISH = step("finish", {}, "I have the answer")


def final(answer: int, reasoning: str = "from the observations") -> dict:
    return {"reasoning": reasoning, "answer": answer}


def user_message(lm: ScriptedLM, call: int) -> str:
    return lm.requests[call][-1]["content"]


# ---- tool descriptions ------------------------------------------------------------------
def test_tool_description_comes_from_hints_and_docstring():
    tool = Tool(multiply)
    assert tool.name == "multiply"
    assert tool.call_signature() == "multiply(a: int, b: int = 2) -> int"
    assert tool.describe() == (
        "multiply(a: int, b: int = 2) -> int\n"
        "    Multiply two integers.\n"
        "    Args: a (int): the first factor; b (int, default 2): the second factor."
    )
    assert tool.schema() == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "the first factor."},
            "b": {"type": "integer", "description": "the second factor.", "default": 2},
        },
        "required": ["a"],
    }
    sig = tool.signature
    assert list(sig.inputs) == ["a", "b"] and sig.outputs["result"].type is int
    assert sig.inputs["a"].desc == "the first factor."


def test_step_prompt_lists_tools_and_constrains_the_name():
    agent = ReAct(QA, tools=[add, multiply])
    system = agent.react.render(question="q", trajectory=NO_STEPS)[0]["content"]
    assert system.startswith("Answer the arithmetic question.")
    assert "(1) add(a: int, b: int) -> int\n    Add two integers." in system
    assert "(2) multiply(a: int, b: int = 2) -> int" in system
    assert "(3) finish()" in system
    assert agent.react.signature.outputs["next_tool_name"].type == Literal["add", "multiply", "finish"]
    assert list(agent.react.signature.inputs) == ["question", "trajectory"]


def test_local_model_grammar_allows_only_real_tool_names():
    agent = ReAct(QA, tools=[add, multiply])
    lm = ScriptedLM([], model="local/test")
    params = agent.react._params({}, lm, lmdsl.ChatAdapter(), agent.react.signature)
    assert '("add" | "multiply" | "finish")' in params["constraint"].grammar


# ---- the loop -----------------------------------------------------------------------------
def test_selects_the_named_tool_and_finishes(scripted):
    lm = scripted([step("multiply", {"a": 6, "b": 7}, "multiply them"), FINISH, final(42)])
    pred = ReAct(QA, tools=[add, multiply])(question="What is 6 times 7?")
    assert CALLS == [("multiply", {"a": 6, "b": 7})]
    assert pred.answer == 42 and pred.reasoning == "from the observations"
    assert pred.trajectory == [
        {"thought": "multiply them", "tool_name": "multiply", "tool_args": {"a": 6, "b": 7}, "observation": "42"},
        {"thought": "I have the answer", "tool_name": "finish", "tool_args": {}, "observation": "Completed."},
    ]
    assert len(lm.history) == 3
    assert user_message(lm, 0) == f"Question: What is 6 times 7?\n\nTrajectory: {NO_STEPS}"
    # the second step and the extract step see the observation
    second = user_message(lm, 1)
    assert "Thought 1: multiply them\nAction 1: multiply({\"a\": 6, \"b\": 7})\nObservation 1: 42" in second
    assert "Action 2: finish({})\nObservation 2: Completed." in user_message(lm, 2)


def test_arguments_are_coerced_to_the_hints(scripted):
    scripted([step("add", '{"a": "2", "b": 3.0}'), step("multiply", "5"), FINISH, final(10)])
    pred = ReAct(QA, tools=[add, multiply])(question="q")
    # "2" -> 2 and 3.0 -> 3 for int
    assert CALLS[0] == ("add", {"a": 2, "b": 3})
    assert pred.trajectory[0]["observation"] == "5"
    # multiply has two parameters, so a bare "5" is not an argument object
    assert pred.trajectory[1]["observation"].startswith("Error: invalid arguments: multiply: arguments must be")
    assert len(CALLS) == 1


def test_validation_error_is_an_observation_and_the_tool_is_not_called(scripted):
    lm = scripted([
        step("add", {"a": "two", "b": 3}),
        step("add", {"a": 2, "c": 3}),
        step("add", {"a": 2}),
        step("add", {"a": 2, "b": 3}),
        FINISH,
        final(5),
    ])
    pred = ReAct(QA, tools=[add], max_iters=6)(question="2+3?")
    obs = [s["observation"] for s in pred.trajectory]
    assert obs[0] == "Error: invalid arguments: add: argument 'a': expected int, got 'two' (no number in it)"
    assert obs[1] == "Error: invalid arguments: add: unexpected argument(s) 'c'; arguments are a, b"
    assert obs[2] == "Error: invalid arguments: add: missing required argument(s) 'b'"
    assert obs[3] == "5"
    assert CALLS == [("add", {"a": 2, "b": 3})]  # only the valid call ran
    assert pred.trajectory[0]["tool_args"] == {"a": "two", "b": 3}  # shown as proposed
    assert "Observation 1: Error: invalid arguments: add: argument 'a': expected int" in user_message(lm, 1)
    assert pred.answer == 5


def test_malformed_json_arguments_are_an_observation(scripted):
    scripted([step("add", "{a: 1, b: 2"), FINISH, final(3)])
    pred = ReAct(QA, tools=[add])(question="q")
    assert pred.trajectory[0]["observation"].startswith(
        "Error: invalid arguments: add: arguments must be a JSON object like {\"a\": \"...\", \"b\": \"...\"}"
    )
    assert pred.trajectory[0]["tool_args"] == "{a: 1, b: 2"
    assert CALLS == []


def test_tool_exception_is_an_observation(scripted):
    lm = scripted([step("divide", {"a": 1, "b": 0}), step("divide", {"a": 1, "b": 4}), FINISH, final(0)])
    pred = ReAct(QA, tools=[divide])(question="1/0?")
    assert pred.trajectory[0]["observation"] == "Error: divide raised ZeroDivisionError: float division by zero"
    assert pred.trajectory[1]["observation"] == "0.25"
    assert "Observation 1: Error: divide raised ZeroDivisionError" in user_message(lm, 1)


def test_max_iters_reached_still_extracts(scripted):
    lm = scripted([step("add", {"a": 1, "b": 1})] * 3 + [final(2)])
    pred = ReAct(QA, tools=[add], max_iters=3)(question="q")
    assert len(pred.trajectory) == 3 and all(s["tool_name"] == "add" for s in pred.trajectory)
    assert len(CALLS) == 3
    assert len(lm.history) == 4 and lm.remaining == 0  # 3 steps + the extract step, nothing more
    assert pred.answer == 2
    assert "Observation 3: 2" in user_message(lm, 3)


def test_unreadable_step_ends_the_loop(scripted):
    with lmdsl.context(max_reasks=0):
        lm = scripted([step("add", {"a": 1, "b": 2}), "I refuse to follow the format", final(3)])
        pred = ReAct(QA, tools=[add])(question="q")
    assert pred.trajectory[-1]["tool_name"] is None
    assert pred.trajectory[-1]["observation"].startswith("Error: unreadable step")
    assert pred.answer == 3 and len(lm.history) == 3


def test_long_observations_are_truncated(scripted):
    def fetch(url: str) -> str:
        """Fetch a page."""
        return "x" * 50

    scripted([step("fetch", {"url": "u"}), FINISH, final(1)])
    pred = ReAct(QA, tools=[fetch], max_observation_chars=10)(question="q")
    assert pred.trajectory[0]["observation"] == "xxxxxxxxxx... [truncated, 40 more characters]"


def test_format_trajectory():
    assert format_trajectory([]) == NO_STEPS
    text = format_trajectory([{"thought": "t", "tool_name": "add", "tool_args": {"a": 1}, "observation": "o"}])
    assert text == 'Thought 1: t\nAction 1: add({"a": 1})\nObservation 1: o'


# ---- construction -----------------------------------------------------------------------
def test_reserved_and_duplicate_tool_names():
    def finish() -> str:
        """Not allowed."""
        return ""

    with pytest.raises(SignatureError, match="reserved"):
        ReAct(QA, tools=[finish])
    with pytest.raises(SignatureError, match="duplicate tool name"):
        ReAct(QA, tools=[add, Tool(multiply, name="add")])
    with pytest.raises(SignatureError, match="trajectory"):
        ReAct("question, trajectory -> answer", tools=[add])


def test_tool_validation_unit():
    def search(query: str, k: int = 3, kind: Literal["web", "news"] = "web", tags: list[str] | None = None):
        """Search."""
        return query

    tool = Tool(search)
    assert tool.validate({"query": 42}) == {"query": "42"}
    assert tool.validate('{"query": "x", "k": "5", "kind": "News"}') == {"query": "x", "k": 5, "kind": "news"}
    assert tool.validate({"query": "x", "tags": ["a", "b"]}) == {"query": "x", "tags": ["a", "b"]}
    assert tool.validate({"query": "x", "tags": None}) == {"query": "x", "tags": None}
    with pytest.raises(ToolArgumentError, match="argument 'query': expected str"):
        tool.validate({"query": ["x"]})
    with pytest.raises(ToolArgumentError, match="argument 'kind': expected Literal"):
        tool.validate({"query": "x", "kind": "books"})
    with pytest.raises(ToolArgumentError, match="argument 'k': expected int") as info:
        tool.validate({"query": "x", "k": True})
    assert info.value.tool == "search" and info.value.argument == "k"
    # one parameter: a bare value is that argument
    single = Tool(lambda city: city, name="weather")
    assert single.validate("Paris") == {"city": "Paris"}
    assert single.validate('"Paris"') == {"city": "Paris"}
    assert single("Oslo") == "Oslo"


def test_tools_are_shared_by_copies_and_predictors_are_found():
    agent = ReAct(QA, tools=[add])
    clone = copy.deepcopy(agent)
    assert clone.tools["add"] is agent.tools["add"]
    assert [p for p, _ in agent.named_predictors()] == ["react", "extract"]
    assert isinstance(agent.extract, ChainOfThought) and type(agent.react) is Predict


def test_registered_as_a_module():
    assert lmdsl.get_module("ReAct") is ReAct


# ---- under an optimizer -------------------------------------------------------------------
def _agent_lm(inputs: dict) -> dict:
    """A deterministic agent: multiply once, finish, read the last observation."""
    traj = inputs["trajectory"]
    if "finish(" in traj:  # the extract step
        value = int(traj.split("Observation 1: ")[1].split("\n")[0])
        return final(value, "the tool said so")
    if traj == NO_STEPS:
        a, b = (int(x) for x in inputs["question"].split(" times "))
        return step("multiply", {"a": a, "b": b}, "I should multiply")
    return FINISH


def test_bootstrap_demos_from_a_successful_trajectory(scripted):
    scripted(_agent_lm)
    trainset = [
        lmdsl.Example(question="3 times 4", answer=12).with_inputs("question"),
        lmdsl.Example(question="5 times 5", answer=99).with_inputs("question"),  # wrong label: fails
        lmdsl.Example(question="2 times 8", answer=16).with_inputs("question"),
    ]

    def metric(example, pred, trace=None):
        return pred.answer == example.answer

    compiled = BootstrapFewShot(metric, max_bootstrapped_demos=2, max_labeled_demos=0).compile(
        ReAct(QA, tools=[multiply]), trainset=trainset
    )
    react_demos = compiled.react.demos
    # each step of a passing run is a demo for the step predictor (capped at max_bootstrapped_demos)
    assert [d["next_tool_name"] for d in react_demos] == ["multiply", "finish"]
    assert react_demos[0]["trajectory"] == NO_STEPS
    assert react_demos[0]["question"] == "3 times 4"
    assert react_demos[0]["next_tool_args"] == '{"a": 3, "b": 4}'
    assert "Observation 1: 12" in react_demos[1]["trajectory"]
    assert [d["answer"] for d in compiled.extract.demos] == [12, 16]
    assert all(d.get("augmented") for d in react_demos + compiled.extract.demos)
    # the compiled agent shows the demos and still works
    messages = compiled.react.render(question="6 times 7", trajectory=NO_STEPS)
    assert messages[1]["content"] == f"Question: 3 times 4\n\nTrajectory: {NO_STEPS}"
    assert "Next Tool Name: multiply" in messages[2]["content"]
    assert compiled(question="6 times 7").answer == 42


def test_config_goes_to_the_inner_predictors():
    agent = ReAct(QA, tools=[add], max_tokens=64)
    assert agent.react.config == agent.extract.config == {"max_tokens": 64}
