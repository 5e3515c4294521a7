"""`MultiChainComparison`: read M reasoning attempts at a question and write one corrected answer.

The ``reflection`` program of the DSPy paper: sample M chains of thought (``n=M`` on a
ChainOfThought, or M runs of any module), then let one more call compare them::

    attempts = ChainOfThought(qa, n=3)(question=q)
    final = MultiChainComparison(qa, M=3)(attempts, question=q)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lmdsl.errors import SignatureError, UsageError, UsageTypeError
from lmdsl.predict.predict import Predict
from lmdsl.primitives import Prediction
from lmdsl.program import Module
from lmdsl.signatures import Field, Signature, as_signature
from lmdsl.values import render_value

RATIONALE_DESC = "compare the attempts: which steps are right, which are wrong, and what the answer is"
_REASONING_KEYS = ("reasoning", "rationale")


class MultiChainComparison(Module):
    """``MultiChainComparison(signature, M=3)``; call it with M completions and the inputs.

    ``completions`` may be a Prediction with several ``completions`` (``n=``), or a list of
    Predictions / dicts. Each attempt is shown with its ``reasoning`` (or ``rationale``)
    and its outputs; the result has a ``rationale`` and the signature's outputs.
    """

    def __init__(self, signature: Any, M: int = 3, *, rationale_field: str = "rationale"):
        if M < 1:
            raise UsageError("MultiChainComparison: M must be at least 1")
        base = as_signature(signature)
        self.signature = base
        self.M = M
        self.rationale_field = rationale_field
        names = [f"reasoning_attempt_{i}" for i in range(1, M + 1)]
        clash = [n for n in [*names, rationale_field] if n in base.fields]
        if clash:
            raise SignatureError(f"MultiChainComparison: the signature may not use the field name(s) {', '.join(clash)}")
        attempts = [Field(n, str, f"student attempt #{i}", "input") for i, n in enumerate(names, 1)]
        instructions = (
            f"{base.instructions}\n\nYou are given {M} attempts at this task by students who may be wrong. "
            "Compare their reasoning, find the mistakes, and give the correct answer."
        )
        sig = Signature([*base.inputs.values(), *attempts], list(base.outputs.values()), instructions,
                        f"{base.name}_compare")
        self.predict = Predict(sig.prepend_output(rationale_field, str, RATIONALE_DESC))

    def forward(self, completions: Any, **inputs: Any) -> Prediction:
        return self.predict(**inputs, **self._shown(completions))

    async def aforward(self, completions: Any, **inputs: Any) -> Prediction:
        return await self.predict.acall(**inputs, **self._shown(completions))

    def _shown(self, completions: Any) -> dict[str, str]:
        attempts = _as_dicts(completions)
        if len(attempts) < self.M:
            raise UsageError(
                f"MultiChainComparison: needs {self.M} attempts, got {len(attempts)} "
                f"(sample them with n={self.M}, or build it with M={len(attempts)})"
            )
        return {f"reasoning_attempt_{i}": self.format_attempt(a) for i, a in enumerate(attempts[: self.M], 1)}

    def format_attempt(self, attempt: Mapping[str, Any]) -> str:
        reasoning = next((str(attempt[k]) for k in _REASONING_KEYS if attempt.get(k)), "")
        outputs = {n: attempt[n] for n in self.signature.outputs if n in attempt}
        if len(outputs) == 1:
            answer = render_value(next(iter(outputs.values())))
        else:
            answer = "; ".join(f"{n} = {render_value(v)}" for n, v in outputs.items()) or "(none)"
        reasoning = " ".join(reasoning.split())
        return f"«{reasoning + ' ' if reasoning else ''}My answer: {answer}»"


def _as_dicts(completions: Any) -> list[dict[str, Any]]:
    if isinstance(completions, Prediction):
        return list(completions.completions)
    if isinstance(completions, Mapping):
        return [dict(completions)]
    if isinstance(completions, Sequence) and not isinstance(completions, str):
        out = []
        for c in completions:
            if hasattr(c, "to_dict"):
                out.append(c.to_dict())
            elif isinstance(c, Mapping):
                out.append(dict(c))
            else:
                raise UsageTypeError(f"MultiChainComparison: an attempt must be a Prediction or a dict, got {c!r}")
        return out
    raise UsageTypeError(f"MultiChainComparison: completions must be a Prediction or a list, got {completions!r}")
