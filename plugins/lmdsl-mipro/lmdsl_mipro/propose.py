"""Grounded instruction proposals: what the proposer LM is shown, and how its reply is cleaned.

MIPRO's proposer writes an instruction for one predictor from (a) a summary of the dataset
it wrote itself, (b) the program's source, (c) the predictor's signature, (d) a few demos
from one of the bootstrapped sets, and (e) a randomly drawn tip that varies the style. Every
piece is short and cut to a budget, since a small proposer has a small context window.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import lmdsl
from lmdsl.primitives import Example
from lmdsl.values.describe import type_repr

if TYPE_CHECKING:
    from lmdsl.program import Module, Predictor

TIPS = [
    "Keep the instruction short and direct.",
    "Say exactly what the output must look like.",
    "Name the mistakes the model should avoid.",
    "Explain briefly how to decide between the possible outputs.",
    "Write it as a clear rule the model can follow step by step.",
    "Be creative: describe the task from a new angle.",
    "Mention what matters most in the inputs.",
]


class DescribeDataset(lmdsl.Signature):
    """Here are some rows of a dataset. Describe the dataset in two or three sentences: what the
    inputs are, what outputs are expected, and any pattern you notice."""

    rows = lmdsl.InputField(desc="rows of the dataset")
    summary = lmdsl.OutputField(desc="a short description of the dataset")


class ProposeInstruction(lmdsl.Signature):
    """You write the instruction for one step of a language-model program. Read what the dataset is
    about, the program's code, the step's inputs and outputs and example runs of the step, then write
    one clear, specific instruction (one to three sentences) that makes the step produce correct
    outputs. Follow the tip. Reply with the instruction only."""

    dataset_description = lmdsl.InputField(desc="what the task's data looks like")
    program_code = lmdsl.InputField(desc="the program's source code")
    step = lmdsl.InputField(desc="the step to instruct: its name, current instruction, inputs and outputs")
    example_runs = lmdsl.InputField(desc="inputs and correct outputs of the step")
    tip = lmdsl.InputField(desc="how to write this instruction")
    instruction = lmdsl.OutputField(desc="the new instruction for the step")


def cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split()) if "\n" not in str(text) else str(text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_rows(rows: Sequence[Example], limit: int = 160) -> str:
    lines = []
    for i, row in enumerate(rows, 1):
        # bootstrapped demos carry an 'augmented' marker that is not part of the data
        fields = "; ".join(f"{k}: {cut(v, limit)}" for k, v in row.items() if k != "augmented")
        lines.append(f"{i}. {fields}")
    return "\n".join(lines)


def describe_step(path: str, predictor: Predictor) -> str:
    sig = predictor.signature
    ins = "; ".join(f"{name} ({type_repr(f.type)}){': ' + f.desc if f.desc else ''}" for name, f in sig.inputs.items())
    outs = "; ".join(f"{name} ({type_repr(f.type)}){': ' + f.desc if f.desc else ''}"
                     for name, f in sig.outputs.items())
    return (f"step: {path}\ncurrent instruction: {cut(sig.instructions, 400)}\n"
            f"inputs: {cut(ins, 400)}\noutputs: {cut(outs, 400)}")


def program_source(program: Module, limit: int = 1200) -> str:
    try:
        source = inspect.getsource(type(program))
    except (OSError, TypeError):
        return f"(source not available) class {type(program).__name__}"
    return cut(source, limit)


_PREFIX = re.compile(r"^(new|proposed|improved)?\s*instruction\s*[:：]\s*", re.I)


def clean_instruction(text: Any) -> str:
    """The instruction alone: no quotes, no 'Instruction:' prefix, the first paragraph."""
    text = str(text or "").strip().strip('"').strip()
    text = _PREFIX.sub("", text)
    return text.split("\n\n")[0].strip().strip('"').strip()
