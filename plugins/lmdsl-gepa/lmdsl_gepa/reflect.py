"""What the reflection LM reads: one predictor's calls on a minibatch, with the metric's feedback."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import lmdsl
from lmdsl.primitives import Example

if TYPE_CHECKING:
    from lmdsl.program import Predictor


class ReflectInstruction(lmdsl.Signature):
    """You improve the instruction of one step of a language-model program. Read the step's current
    instruction, then examples of the step's inputs, the outputs it produced and feedback on the
    program's final result. Work out what went wrong and write a new instruction for the step that
    fixes those mistakes and keeps what worked. Reply with the new instruction only."""

    current_instruction = lmdsl.InputField(desc="the step's instruction now")
    examples_with_feedback = lmdsl.InputField(desc="the step's inputs, its outputs, and feedback")
    new_instruction = lmdsl.OutputField(desc="the improved instruction")


@dataclass
class Rollout:
    """One program run on one row: the score, the feedback, and every predictor call made."""

    example: Example
    score: float
    feedback: str
    trace: list[Any] = field(default_factory=list)
    error: str | None = None


def _cut(value: Any, limit: int) -> str:
    text = str(value).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_feedback(rollout: Rollout, outputs: list[str]) -> str:
    """The metric's own text when it gave one; otherwise the score and the expected values of
    this step's outputs that the example labels (a plain-number metric says no more)."""
    text = rollout.feedback
    if not text:
        text = f"score {rollout.score:g}"
        labels: Example | dict[str, Any] = rollout.example.labels() if rollout.example.input_keys is not None else {}
        expected = [f"{k}: {_cut(labels[k], 200)}" for k in outputs if k in labels]
        if expected:
            text += "; expected " + "; ".join(expected)
    return text


def render_examples(rollouts: list[Rollout], predictor: Predictor, limit: int = 300) -> str:
    """The minibatch as the reflection LM sees it, for one predictor."""
    outputs = list(predictor.signature.outputs)
    blocks = []
    for n, rollout in enumerate(rollouts, 1):
        calls = [e for e in rollout.trace if e.predictor is predictor]
        lines = [f"# Example {n}"]
        if not calls:
            lines.append(f"(the step was not reached: {rollout.error or 'no call recorded'})")
        for entry in calls[-1:]:  # the last call is the one that produced the final result
            lines.append("Inputs:")
            lines += [f"  {k}: {_cut(v, limit)}" for k, v in entry.inputs.items()]
            produced = entry.outputs.to_dict() if hasattr(entry.outputs, "to_dict") else dict(entry.outputs)
            lines.append("Outputs:")
            lines += [f"  {k}: {_cut(v, limit)}" for k, v in produced.items()]
        if rollout.error and calls:
            lines.append(f"Error: {_cut(rollout.error, limit)}")
        lines.append(f"Feedback: {describe_feedback(rollout, outputs)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


_PREFIX = re.compile(r"^(new|proposed|improved)?\s*instruction\s*[:：]\s*", re.I)


def clean_instruction(text: Any) -> str:
    text = str(text or "").strip().strip("`").strip().strip('"').strip()
    text = _PREFIX.sub("", text)
    return text.split("\n\n")[0].strip().strip('"').strip()
