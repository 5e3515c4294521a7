"""`ReAct`: a tool-using agent loop (thought -> tool call -> observation), then an extract step.

Each step one predictor proposes ``next_thought``, ``next_tool_name`` (a ``Literal`` over
the tool names plus ``finish``, so a grammar-constrained local model can only name a real
tool) and ``next_tool_args`` (a JSON object). The arguments are validated against the
tool's type hints before the call; a validation error or an exception raised by the tool
becomes the step's observation, so the model sees it and can correct itself. After
``finish`` (or ``max_iters`` steps) a ``ChainOfThought`` reads the trajectory and produces
the signature's typed outputs.

``next_tool_args`` is declared as text holding JSON rather than a ``dict`` field: every
field of the step then has a one-line grammar rule, so the embedded model is constrained
on the whole reply (a ``dict`` output has no rule and would switch the grammar off), and a
malformed object is one more observation instead of a re-ask.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any, Literal, NamedTuple

from lmdsl.errors import ParseError, SignatureError, UsageError
from lmdsl.predict.chain_of_thought import ChainOfThought
from lmdsl.predict.predict import Predict
from lmdsl.predict.tools import Tool, ToolArgumentError, as_tool
from lmdsl.primitives import Prediction
from lmdsl.program import Module
from lmdsl.signatures import Field, Signature, as_signature
from lmdsl.values import render_value

FINISH = "finish"
NO_STEPS = "(no steps yet)"


class ReAct(Module):
    """``ReAct(signature, tools=[search, lookup], max_iters=5)``; call it with the signature's inputs.

    The returned Prediction has the signature's outputs, the extract step's ``reasoning``
    and ``trajectory``: a list of ``{"thought", "tool_name", "tool_args", "observation"}``
    dicts, one per step (the last one is the ``finish`` step when the agent finished).
    Other keyword arguments (``max_tokens=``, ``lm=``...) go to both inner predictors.
    """

    def __init__(
        self,
        signature: Any,
        tools: Sequence[Callable[..., Any] | Tool],
        *,
        max_iters: int = 5,
        max_observation_chars: int = 2000,
        **config: Any,
    ):
        if max_iters < 1:
            raise UsageError("ReAct: max_iters must be at least 1")
        base = as_signature(signature)
        self.signature = base
        self.max_iters = max_iters
        self.max_observation_chars = max_observation_chars
        tool_list = [as_tool(t) for t in tools]
        names = [t.name for t in tool_list]
        if FINISH in names:
            raise SignatureError(f"ReAct: the tool name {FINISH!r} is reserved (it ends the loop)")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SignatureError(f"ReAct: duplicate tool name(s) {', '.join(dupes)}")
        if "trajectory" in base.fields:
            raise SignatureError("ReAct: the signature may not use the field name 'trajectory'")
        self.tools: dict[str, Tool] = {t.name: t for t in tool_list}
        self.react = Predict(_step_signature(base, tool_list), **config)
        self.extract = ChainOfThought(_extract_signature(base), **config)

    # ---- the loop ---------------------------------------------------------------------
    # The loop is written once, as a generator that yields each call it needs (a _Call) and
    # gets the reply back; forward() makes the calls, aforward() awaits them. A ParseError of
    # a call is thrown back into the loop at the point of the call.
    def forward(self, **inputs: Any) -> Prediction:
        steps = self._loop(inputs)
        request = next(steps)
        while isinstance(request, _Call):
            try:
                reply = request.call(**request.kwargs)
            except ParseError as exc:
                request = steps.throw(exc)
            else:
                request = steps.send(reply)
        return request

    async def aforward(self, **inputs: Any) -> Prediction:
        """:meth:`forward` for async code: LM calls are awaited; an ``async def`` tool is awaited,
        a sync tool runs in a worker thread so that a slow one never blocks the event loop."""
        steps = self._loop(inputs)
        request = next(steps)
        while isinstance(request, _Call):
            try:
                reply = await request.acall(**request.kwargs)
            except ParseError as exc:
                request = steps.throw(exc)
            else:
                request = steps.send(reply)
        return request

    def _loop(self, inputs: dict[str, Any]) -> Generator[_Call | Prediction, Any, None]:
        trajectory: list[dict[str, Any]] = []
        for _ in range(self.max_iters):
            try:
                step = yield _Call(self.react, self.react.acall, {**inputs, "trajectory": format_trajectory(trajectory)})
            except ParseError as exc:
                trajectory.append(_unreadable(exc))
                break
            if step.next_tool_name == FINISH:
                trajectory.append(_finished(step))
                break
            tool, args, observation = self._prepare(step.next_tool_name, step.next_tool_args)
            if tool is not None:
                observation = yield _Call(self._run_tool, self._arun_tool, {"tool": tool, "args": args})
            trajectory.append(_step(step, args, observation))
        extracted = yield _Call(self.extract, self.extract.acall, {**inputs, "trajectory": format_trajectory(trajectory)})
        yield _result(extracted, trajectory)

    def _prepare(self, name: str, raw_args: Any) -> tuple[Tool | None, Any, str]:
        """(tool, validated arguments, "") or (None, arguments as proposed, the error observation)."""
        tool = self.tools.get(name)
        if tool is None:  # only possible without a grammar and with a lenient parse
            return None, raw_args, f"Error: unknown tool {name!r}; tools are {', '.join([*self.tools, FINISH])}"
        try:
            return tool, tool.validate(raw_args), ""
        except ToolArgumentError as exc:
            return None, _loads(raw_args), f"Error: invalid arguments: {exc}"

    def _run_tool(self, tool: Tool, args: dict[str, Any]) -> str:
        """The observation of one tool call. Never raises for the tool's faults."""
        try:
            return self._observation(tool.run(args))
        except Exception as exc:  # the tool's own fault: show it to the model
            return f"Error: {tool.name} raised {type(exc).__name__}: {exc}"

    async def _arun_tool(self, tool: Tool, args: dict[str, Any]) -> str:
        try:
            return self._observation(await tool.arun(args))
        except Exception as exc:
            return f"Error: {tool.name} raised {type(exc).__name__}: {exc}"

    def _observation(self, value: Any) -> str:
        text = render_value(value)
        limit = self.max_observation_chars
        if limit and len(text) > limit:
            text = text[:limit] + f"... [truncated, {len(text) - limit} more characters]"
        return text


class _Call(NamedTuple):
    """One call the loop needs: how to make it (sync, async) and with what."""

    call: Callable[..., Any]
    acall: Callable[..., Awaitable[Any]]
    kwargs: dict[str, Any]


def _unreadable(exc: ParseError) -> dict[str, Any]:
    # The model could not produce a readable step even after re-asking: the loop stops there
    # and the extract step works with what was gathered.
    return {"thought": "", "tool_name": None, "tool_args": {}, "observation": f"Error: unreadable step ({exc})"}


def _finished(step: Prediction) -> dict[str, Any]:
    return {"thought": step.next_thought, "tool_name": FINISH, "tool_args": {}, "observation": "Completed."}


def _step(step: Prediction, args: Any, observation: str) -> dict[str, Any]:
    return {"thought": step.next_thought, "tool_name": step.next_tool_name, "tool_args": args,
            "observation": observation}


def _result(extracted: Prediction, trajectory: list[dict[str, Any]]) -> Prediction:
    return Prediction.from_completions([{**c, "trajectory": trajectory} for c in extracted.completions],
                                       extracted.usage)


# ---- signatures -------------------------------------------------------------------------
def _step_signature(base: Signature, tools: list[Tool]) -> Signature:
    names = [t.name for t in tools] + [FINISH]
    tool_name_type = Literal[tuple(names)]  # type: ignore[valid-type]  # built at run time from the tools
    inputs = ", ".join(f"`{n}`" for n in base.inputs) or "the task"
    outputs = ", ".join(f"`{n}`" for n in base.outputs)
    catalogue = [f"({i}) {t.describe()}" for i, t in enumerate(tools, 1)]
    catalogue.append(
        f"({len(tools) + 1}) {FINISH}()\n    Call it, with arguments {{}}, once the trajectory holds everything "
        f"needed to produce {outputs}."
    )
    instructions = "\n".join(
        [
            base.instructions,
            "",
            f"You are an agent. You are given {inputs} and the trajectory of your steps so far. "
            f"Use the tools to gather what you need to produce {outputs}.",
            "In each step write your next thought, then choose one tool and its arguments as a JSON object. "
            "The tool's result is added to the trajectory as an observation; an error is shown there too, "
            "so you can correct the call.",
            "",
            "Tools:",
            *catalogue,
        ]
    )
    return Signature(
        [*base.inputs.values(), Field("trajectory", str, "the steps taken so far", "input")],
        [
            Field("next_thought", str, "reason about the situation and plan the next step", "output"),
            Field("next_tool_name", tool_name_type, "the tool to call next", "output"),
            Field("next_tool_args", str, f"a JSON object of the tool's arguments, e.g. {_args_example(tools)}",
                  "output"),
        ],
        instructions,
        f"{base.name}_react",
    )


def _args_example(tools: list[Tool]) -> str:
    first = next((t for t in tools if t.args), None)
    return json.dumps({n: "..." for n in first.args}) if first else "{}"


def _extract_signature(base: Signature) -> Signature:
    instructions = (
        f"{base.instructions}\n\nThe trajectory shows the tool calls made for this task and what they returned. "
        "Use it to produce the outputs."
    )
    return Signature(
        [*base.inputs.values(), Field("trajectory", str, "the tool calls made and their observations", "input")],
        list(base.outputs.values()),
        instructions,
        f"{base.name}_extract",
    )


def format_trajectory(trajectory: Sequence[dict[str, Any]]) -> str:
    """The text the model sees: numbered Thought / Action / Observation lines."""
    if not trajectory:
        return NO_STEPS
    lines = []
    for i, step in enumerate(trajectory, 1):
        args = step.get("tool_args")
        shown = json.dumps(args, ensure_ascii=False, default=repr) if not isinstance(args, str) else args
        lines.append(f"Thought {i}: {step.get('thought', '')}")
        if step.get("tool_name") is not None:
            lines.append(f"Action {i}: {step['tool_name']}({shown})")
        lines.append(f"Observation {i}: {step.get('observation', '')}")
    return "\n".join(lines)


def _loads(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw
