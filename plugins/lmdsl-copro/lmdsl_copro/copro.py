"""COPRO: a prompt model proposes instructions; each is scored with the metric; best kept.

For every predictor (coordinate ascent, others held at their best so far): the current
instruction plus ``breadth - 1`` proposals are scored on the trainset; then for ``depth``
rounds the prompt model sees the attempted instructions with their scores (worst first,
as in OPRO) and proposes ``breadth`` more. The best-scoring instruction is kept.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import lmdsl
from lmdsl.errors import UsageError
from lmdsl.evaluate import Evaluate
from lmdsl.optimizers.base import Candidate, Optimizer, check_trainset
from lmdsl.primitives import Example
from lmdsl.utils.usage import track_usage

if TYPE_CHECKING:
    from lmdsl.program import Module, Predictor


class ProposeInstruction(lmdsl.Signature):
    """You improve instructions for a language model. Given a task's current instruction, write one
    better instruction for the same task: clear, specific, one or two sentences."""

    task_fields = lmdsl.InputField(desc="the task's inputs and outputs")
    basic_instruction = lmdsl.InputField(desc="the current instruction")
    proposed_instruction = lmdsl.OutputField(desc="the improved instruction")


class ProposeFromAttempts(lmdsl.Signature):
    """You improve instructions for a language model. Below are instructions already tried for a task,
    each with its validation score (higher is better), worst first. Write one new instruction that
    should score higher than all of them."""

    task_fields = lmdsl.InputField(desc="the task's inputs and outputs")
    attempted_instructions = lmdsl.InputField(desc="instructions tried so far, with scores")
    proposed_instruction = lmdsl.OutputField(desc="a new, better instruction")


def _clean(text: str) -> str:
    text = text.strip().strip('"').strip()
    text = re.sub(r"^(proposed|improved|new)?\s*instruction\s*[:：]\s*", "", text, flags=re.I)
    return text.split("\n\n")[0].strip()


def _fields(signature: Any) -> str:
    ins = ", ".join(signature.inputs)
    outs = ", ".join(signature.outputs)
    return f"inputs: {ins}; outputs: {outs}"


class COPRO(Optimizer):
    name = "copro"

    def __init__(self, metric: Any, *, prompt_model: Any = None, breadth: int = 4, depth: int = 2,
                 init_temperature: float = 1.0, num_threads: int | None = None, seed: int = 0,
                 max_errors: int = 10):
        super().__init__()
        if breadth < 2:
            raise UsageError("COPRO: breadth must be at least 2 (the current instruction plus one proposal)")
        if depth < 0:
            raise UsageError("COPRO: depth must be >= 0")
        self.metric = metric
        self.prompt_model = lmdsl.LM(prompt_model) if isinstance(prompt_model, str) else prompt_model
        self.breadth = breadth
        self.depth = depth
        self.init_temperature = init_temperature
        self.num_threads = num_threads
        self.seed = seed
        self.max_errors = max_errors

    def estimate(self, program: Module, trainset: Sequence[Example]) -> int:
        per_predictor = self.breadth * (self.depth + 1) * len(trainset)
        return per_predictor * len(program.predictors())

    def _propose(self, signature: Any, attempts: list[tuple[str, float]], n: int, round_idx: int) -> list[str]:
        config: dict[str, Any] = {"n": n, "temperature": self.init_temperature, "rollout_id": f"copro-{self.seed}-{round_idx}"}
        if attempts:
            proposer = lmdsl.Predict(ProposeFromAttempts, **config)
            listing = "\n".join(f"Instruction: {ins}\nScore: {score:.1f}" for ins, score in
                                sorted(attempts, key=lambda a: a[1]))
            inputs = {"task_fields": _fields(signature), "attempted_instructions": listing}
        else:
            proposer = lmdsl.Predict(ProposeInstruction, **config)
            inputs = {"task_fields": _fields(signature), "basic_instruction": signature.instructions}
        with lmdsl.context(lm=self.prompt_model) if self.prompt_model is not None else contextlib.nullcontext():
            try:
                prediction = proposer(**inputs)
            except lmdsl.ParseError:
                return []
        return [_clean(c["proposed_instruction"]) for c in prediction.completions if c.get("proposed_instruction")]

    def compile(self, program: Module, *, trainset: Sequence[Example], valset: Sequence[Example] | None = None) -> Module:
        rows = check_trainset(trainset, self.name)
        student = program.deepcopy()
        start = self._start(self.estimate(student, rows))
        assert self.report is not None
        evaluate = Evaluate(rows, self.metric, num_threads=self.num_threads, max_errors=self.max_errors,
                            display_progress=False)
        with track_usage() as usage:
            for path, predictor in student.named_predictors():
                self._optimize_predictor(student, path, predictor, evaluate)
        candidates = self.report.candidates
        best = max(range(len(candidates)), key=lambda i: candidates[i].score or 0.0, default=None)
        self.report.best = best
        self._finish(start, usage)
        return student

    def _optimize_predictor(self, student: Module, path: str, predictor: Predictor, evaluate: Evaluate) -> None:
        assert self.report is not None
        report = self.report
        original = predictor.signature
        scored: dict[str, float] = {}

        def score(instruction: str, round_idx: int) -> None:
            if not instruction or instruction in scored:
                return
            predictor.signature = original.with_instructions(instruction)
            result = evaluate(student)
            scored[instruction] = result.score
            report.candidates.append(Candidate(f"{path} round {round_idx}", result.score,
                                                    details={"instruction": instruction, "predictor": path}))
            self.log(f"{path} round {round_idx}: {result.score:.1f}  {instruction[:70]!r}")

        score(original.instructions, 0)
        for proposal in self._propose(original, [], self.breadth - 1, 0):
            score(proposal, 0)
        for round_idx in range(1, self.depth + 1):
            for proposal in self._propose(original, list(scored.items()), self.breadth, round_idx):
                score(proposal, round_idx)
        # Earlier (original first) wins ties, so an instruction only changes when it scores higher.
        best = max(scored, key=lambda ins: (scored[ins], -list(scored).index(ins)))
        predictor.signature = original.with_instructions(best)

