"""`BestOfN` and `Refine`: run a module up to N times and keep the first output a reward accepts.

Both wrap any module (a predictor or a whole program). Attempt 1 is an ordinary call;
attempt i > 1 samples with ``rollout_id=i-1`` and ``temperature=1.0`` on every predictor
call inside the module, so the LM cache never hands back the same failure (``rollout_id``
is part of the cache key, never sent to a provider). ``Refine`` additionally asks the
model for advice after a failed attempt and shows it to every predictor of the next
attempt as an extra ``hint`` input.

``reward_fn(inputs: dict, prediction) -> float``. The first attempt with reward >=
``threshold`` is returned; otherwise the best one. An attempt that raises (a ParseError,
an ``lmdsl.AssertionFailed``) counts as failed; more than ``fail_count`` of them (default:
all N) re-raise the last error. When tracing (optimizers), only the returned attempt's
predictor calls are added to the trace.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable
from typing import Any

from lmdsl.errors import LmdslError, UsageError, UsageTypeError
from lmdsl.lm.protocol import LanguageModel
from lmdsl.predict.predict import Predict
from lmdsl.program import Module
from lmdsl.program.backtracking.state import detached, patched
from lmdsl.program.trace import TraceEntry, current_trace, tracing
from lmdsl.signatures import Field, Signature
from lmdsl.values.render import render_value

log = logging.getLogger(__name__)

RewardFn = Callable[[dict[str, Any], Any], float]

ADVICE_INSTRUCTIONS = (
    "A program made of steps that call a language model produced outputs that scored too low. "
    "Study the inputs, what each step wrote, and how outputs are scored; then write short, concrete "
    "advice for the next attempt: what to do differently to reach the target score."
)


class BestOfN(Module):
    """Run ``module`` up to ``N`` times with distinct rollouts; return the first output scoring >= threshold."""

    def __init__(self, module: Any, N: int, reward_fn: RewardFn, threshold: float, *,
                 fail_count: int | None = None):
        if not isinstance(N, int) or N < 1:
            raise UsageError(f"{type(self).__name__}: N must be an int >= 1, got {N!r}")
        if not callable(reward_fn):
            raise UsageTypeError(f"{type(self).__name__}: reward_fn must be callable (inputs, prediction) -> float")
        self.module = module
        self.N = N
        self.reward_fn = reward_fn
        self.threshold = threshold
        self.fail_count = N if fail_count is None else fail_count

    def forward(self, **kwargs: Any) -> Any:
        attempts = _Attempts(self)
        for i in range(self.N):
            try:
                with patched(attempts.params(i), attempts.hints), tracing() as trace:
                    prediction = self.module(**kwargs)
                reward = float(self.reward_fn(dict(kwargs), prediction))
            except Exception as exc:  # a failed attempt; Backtrack signals (BaseException) pass through
                attempts.failed(i, exc)
                continue
            if attempts.scored(prediction, list(trace), reward):
                break
            if i + 1 < self.N:
                attempts.hints = self._next_hints(kwargs, prediction, list(trace), reward)
        return attempts.result()

    async def aforward(self, **kwargs: Any) -> Any:
        """:meth:`forward` for async code: each attempt awaits the module (``acall``); a reward
        function may be ``async def``."""
        attempts = _Attempts(self)
        for i in range(self.N):
            try:
                with patched(attempts.params(i), attempts.hints), tracing() as trace:
                    prediction = await _acall(self.module, kwargs)
                reward = self.reward_fn(dict(kwargs), prediction)
                reward = float(await reward if inspect.isawaitable(reward) else reward)
            except Exception as exc:
                attempts.failed(i, exc)
                continue
            if attempts.scored(prediction, list(trace), reward):
                break
            if i + 1 < self.N:
                attempts.hints = await self._anext_hints(kwargs, prediction, list(trace), reward)
        return attempts.result()

    def _next_hints(self, inputs: dict[str, Any], prediction: Any, trace: list[TraceEntry],
                    reward: float) -> dict[int, str]:
        return {}  # BestOfN just samples again

    async def _anext_hints(self, inputs: dict[str, Any], prediction: Any, trace: list[TraceEntry],
                           reward: float) -> dict[int, str]:
        return {}


class _Attempts:
    """The bookkeeping of one BestOfN / Refine call, shared by forward and aforward."""

    def __init__(self, owner: BestOfN):
        self.owner = owner
        self.outer = current_trace()
        self.best: tuple[float, Any, list[TraceEntry]] | None = None
        self.failures = 0
        self.last_error: Exception | None = None
        self.hints: dict[int, str] = {}

    @staticmethod
    def params(i: int) -> dict[str, Any]:
        return {} if i == 0 else {"rollout_id": i, "temperature": 1.0}

    def failed(self, i: int, exc: Exception) -> None:
        self.failures += 1
        self.last_error = exc
        log.debug("%s attempt %d raised %s: %s", type(self.owner).__name__, i + 1, type(exc).__name__, exc)
        if self.failures > self.owner.fail_count:
            raise exc

    def scored(self, prediction: Any, trace: list[TraceEntry], reward: float) -> bool:
        """Keep the attempt if it is the best so far; True when it reaches the threshold."""
        if self.best is None or reward > self.best[0]:
            self.best = (reward, prediction, trace)
        return reward >= self.owner.threshold

    def result(self) -> Any:
        if self.best is None:
            assert self.last_error is not None
            raise self.last_error
        if self.outer is not None:
            self.outer.extend(self.best[2])
        return self.best[1]


async def _acall(module: Any, kwargs: dict[str, Any]) -> Any:
    if hasattr(module, "acall"):
        return await module.acall(**kwargs)
    result = module(**kwargs)  # a plain callable: await it if it is async
    return await result if inspect.isawaitable(result) else result


class Refine(BestOfN):
    """BestOfN plus feedback: after a failed attempt the model writes advice that the next attempt sees.

    The advice call uses ``lm`` (default: the LM in effect) and is not part of the trace,
    the module's predictors or the saved state.
    """

    def __init__(self, module: Any, N: int, reward_fn: RewardFn, threshold: float, *,
                 fail_count: int | None = None, lm: LanguageModel | None = None):
        super().__init__(module, N, reward_fn, threshold, fail_count=fail_count)
        self._advisor_lm = lm

    def _next_hints(self, inputs: dict[str, Any], prediction: Any, trace: list[TraceEntry],
                    reward: float) -> dict[int, str]:
        advisor, values, named = self._advice_request(inputs, prediction, trace, reward)
        try:
            with detached(), tracing():  # advice is not a step of the program
                advice = advisor(**values).advice
        except (LmdslError, ValueError) as exc:
            log.debug("Refine: no advice (%s: %s)", type(exc).__name__, exc)
            return {}
        return _hints(advice, named)

    async def _anext_hints(self, inputs: dict[str, Any], prediction: Any, trace: list[TraceEntry],
                           reward: float) -> dict[int, str]:
        advisor, values, named = self._advice_request(inputs, prediction, trace, reward)
        try:
            with detached(), tracing():
                advice = (await advisor.acall(**values)).advice
        except (LmdslError, ValueError) as exc:
            log.debug("Refine: no advice (%s: %s)", type(exc).__name__, exc)
            return {}
        return _hints(advice, named)

    def _advice_request(self, inputs: dict[str, Any], prediction: Any, trace: list[TraceEntry],
                        reward: float) -> tuple[Predict, dict[str, Any], list[tuple[str, Any]]]:
        named = _named(self.module)
        names = {id(p): name for name, p in named}
        advisor = Predict(_advice_signature([name for name, _ in named]), lm=self._advisor_lm)
        values = {
            "program_inputs": _clip(render_value(inputs)),
            "trajectory": _trajectory(trace, names),
            "program_outputs": _clip(render_value(_outputs(prediction))),
            "reward_function": _describe_reward(self.reward_fn),
            "reward": round(reward, 4),
            "target_reward": self.threshold,
        }
        return advisor, values, named


def _hints(advice: Any, named: list[tuple[str, Any]]) -> dict[int, str]:
    """Per-predictor hints from the advice: one text for all, or a {step name: text} object."""
    if isinstance(advice, dict):
        by_name = {str(k).strip(): str(v) for k, v in advice.items() if str(v).strip()}
        return {id(p): by_name[name] for name, p in named if name in by_name}
    text = str(advice).strip()
    return {id(p): text for _, p in named} if text else {}


# ---- helpers ----------------------------------------------------------------------------
def _named(module: Any) -> list[tuple[str, Any]]:
    if isinstance(module, Predict):
        return [(module.signature.name if module.signature.name != "Signature" else "predict", module)]
    return list(module.named_predictors())


def _advice_signature(step_names: list[str]) -> Signature:
    ins = [
        Field("program_inputs", str, "the inputs the program was called with"),
        Field("trajectory", str, "each step in order: its name, inputs and outputs"),
        Field("program_outputs", str, "what the program returned"),
        Field("reward_function", str, "how the outputs are scored"),
        Field("reward", float, "the score the outputs got"),
        Field("target_reward", float, "the score to reach"),
    ]
    if len(step_names) > 1:
        advice = Field("advice", dict[str, str],
                       f"for each step name ({', '.join(step_names)}): what that step should do differently")
    else:
        advice = Field("advice", str, "what the program should do differently next time")
    outs = [Field("discussion", str, "why the score is low"), advice]
    return Signature(ins, outs, ADVICE_INSTRUCTIONS, "OfferFeedback")


def _outputs(prediction: Any) -> Any:
    return prediction.to_dict() if hasattr(prediction, "to_dict") else prediction


def _clip(text: str, limit: int = 1200) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."


def _trajectory(trace: list[TraceEntry], names: dict[int, str]) -> str:
    lines = []
    for entry in trace:
        name = names.get(id(entry.predictor), type(entry.predictor).__name__)
        ins = json.dumps(entry.inputs, ensure_ascii=False, default=str)
        outs = json.dumps(_outputs(entry.outputs), ensure_ascii=False, default=str)
        lines.append(f"Step {name}\n  inputs: {_clip(ins, 800)}\n  outputs: {_clip(outs, 800)}")
    return "\n".join(lines) or "(no steps)"


def _describe_reward(fn: Any) -> str:
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = ""
    if source:
        return _clip(inspect.cleandoc(source), 1500)
    doc = inspect.getdoc(fn)
    return doc or str(getattr(fn, "__name__", repr(fn)))


__all__ = ["BestOfN", "Refine"]
