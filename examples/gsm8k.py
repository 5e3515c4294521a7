"""Grade-school math (GSM8K): chain of thought, compiled; and a program-of-thought variant.

    lmdsl compile examples/gsm8k.py:GSM8K                  # BootstrapFewShotWithRandomSearch by default
    lmdsl evaluate GSM8K.compiled.json --devset examples/data/gsm8k_dev.jsonl
    lmdsl evaluate examples/gsm8k.py:GSM8KProgramOfThought  # code written by the model, run in the sandbox

The seed's example: a typed signature (``answer: float``) under ``ChainOfThought``,
compiled with ``BootstrapFewShotWithRandomSearch(metric=gsm8k_accuracy)``. The data
(``examples/data/gsm8k_*.jsonl``, MIT, from openai/grade-school-math; see
``examples/data/SOURCES.md``) has ``question``, ``answer`` (the worked solution ending in
``#### N``), ``rationale`` and ``final_answer``; they are loaded as ``question``,
``solution``, ``reasoning`` and ``answer``, so a labeled demo is a full worked example.

``bench/gsm8k.py`` measures both programs on the embedded SmolLM2-135M; see
``docs/reasoning.md`` for the figures (small, as expected from a 135M model).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from lmdsl import ChainOfThought, Prediction, program, signature
from lmdsl.data import load_jsonl
from lmdsl.predict.program_of_thought import ProgramOfThought, ProgramOfThoughtError

DATA = Path(__file__).parent / "data"
FIELDS = {"answer": "solution", "final_answer": "answer", "rationale": "reasoning"}


@signature
def solve(question: str) -> float:
    """Solve the grade-school math word problem.

    Args:
        question: a math word problem.

    Returns:
        answer: the final answer.
    """


@program
class GSM8K:
    """Chain of thought: a short reasoning, then the number."""

    def __init__(self) -> None:
        self.solve = ChainOfThought(solve)

    def forward(self, question: str):
        return self.solve(question=question)


@program
class GSM8KProgramOfThought:
    """The model writes Python that computes the answer; lmdsl's sandbox runs it."""

    def __init__(self, max_iters: int = 3, max_tokens: int = 96) -> None:
        # One line of code is plenty for these problems; a small model that drifts into
        # prose would otherwise write until the default token budget runs out.
        self.solve = ProgramOfThought(solve, max_iters=max_iters, max_tokens=max_tokens)

    def forward(self, question: str):
        try:
            return self.solve(question=question)
        except ProgramOfThoughtError as exc:
            # No code ran within max_iters: a wrong answer, not a crash of the evaluation
            # (or of bootstrapping, which stops after too many errors).
            return Prediction(answer=None, error=str(exc), attempts=exc.attempts)


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def to_number(value: Any) -> float | None:
    """A number from a prediction or a label: 42, 42.0, "42", "$1,200", "#### 18"; None if there is none."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    text = str(value)
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def gsm8k_accuracy(example: Any, prediction: Any, trace: Any = None) -> bool:
    """The predicted number equals the gold answer (to 1e-6)."""
    gold = to_number(example["answer"])
    pred = to_number(prediction.get("answer") if hasattr(prediction, "get") else prediction)
    return gold is not None and pred is not None and abs(gold - pred) <= 1e-6 * max(1.0, abs(gold))


def load(split: str, limit: int | None = None) -> list:
    return load_jsonl(DATA / f"gsm8k_{split}.jsonl", inputs=["question"], limit=limit, rename=FIELDS)


# Module-level data the CLI uses when --trainset/--valset/--metric are not given.
trainset = load("train", 40)
valset = load("dev", 20)
devset = load("dev")[20:]
metric = gsm8k_accuracy
