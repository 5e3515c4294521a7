"""`Predict`: call the LM for one signature, parse the reply into typed outputs, re-ask on failure."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lmdsl import callbacks, settings
from lmdsl.adapters import Adapter, current_adapter
from lmdsl.errors import ParseError, SignatureError, ValueParseError
from lmdsl.lm.default import current_lm
from lmdsl.lm.protocol import LanguageModel
from lmdsl.lm.request import CallInfo, current_call
from lmdsl.predict.replay import replay_async
from lmdsl.predict.streaming import streamed_lm
from lmdsl.primitives import Example, Prediction
from lmdsl.program import lm_usage
from lmdsl.program import trace as _trace
from lmdsl.program.backtracking.state import call_params, feedback_for, note_call
from lmdsl.program.demos import active_demos
from lmdsl.program.predictor import Predictor
from lmdsl.signatures import Signature, as_signature
from lmdsl.signatures.labels import label_field, labels


@dataclass
class _Call:
    """One predictor call, prepared: what the LM is asked and how the reply is read."""

    lm: LanguageModel
    adapter: Adapter
    signature: Signature
    inputs: dict[str, Any]
    messages: list[dict[str, str]]
    params: dict[str, Any]


class Predict(Predictor):
    """The basic predictor. Its learnable state is ``demos``, the signature's instructions and,
    for a signature whose one output is a label, ``label_bias``.

    ``label_bias`` (None: generate as usual) switches the predictor from generating a reply to
    scoring every possible label: the LM rates each complete reply (``LM.score``), the bias
    of each label (keyed by its rendered text, e.g. ``{"positive": 1.5}``) is added, and the
    best label wins. ``lmdsl.optimizers.Calibrate`` learns the biases from a trainset; a small
    model's preference for one label is the commonest error it corrects.
    """

    _assertion_scope = False  # one LM call: nothing to backtrack inside (see Module.__call__)

    def __init__(self, signature: Any, *, adapter: Adapter | None = None, lm: LanguageModel | None = None,
                 **config: Any):
        self.signature: Signature = as_signature(signature)
        self.adapter = adapter
        self.lm = lm
        self.config = config
        self.demos: list[Example] = []
        self.label_bias: dict[str, float] | None = None

    def reset(self) -> None:
        self.demos = []
        self.label_bias = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.signature!r}, demos={len(self.demos)})"

    # ---- inputs -----------------------------------------------------------------------
    def _check_inputs(self, kwargs: Mapping[str, Any], signature: Signature) -> dict[str, Any]:
        unknown = [k for k in kwargs if k not in signature.inputs]
        if unknown:
            raise SignatureError(
                f"{signature.name}: unexpected input(s) {', '.join(unknown)}; inputs are {', '.join(signature.inputs)}"
            )
        values = {}
        for name, field in signature.inputs.items():
            if name in kwargs:
                values[name] = kwargs[name]
            elif field.required:
                raise SignatureError(f"{signature.name}: missing input {name!r}")
            else:
                values[name] = field.default
        return values

    def _resolve(self) -> tuple[LanguageModel, Adapter]:
        lm = self.lm or current_lm()
        return lm, self._adapter_for(lm)

    def _adapter_for(self, lm: LanguageModel | None) -> Adapter:
        """The configured adapter, switched to a JSON layout when ``lm`` constrains replies to JSON."""
        adapter = current_adapter(self.adapter)
        return adapter.for_replies(bool(getattr(lm, "json_replies", False)))

    def render(self, **inputs: Any) -> list[dict[str, str]]:
        """The exact messages this call would send, without calling the LM."""
        signature, inputs = self._prepare(inputs)
        adapter = self._adapter_for(self.lm or settings.get("lm"))
        return adapter.format(signature, active_demos(self), inputs)

    format = render

    def _prepare(self, kwargs: dict[str, Any]) -> tuple[Signature, dict[str, Any]]:
        signature = self.signature
        extra = feedback_for(self)
        if extra is not None:
            signature, added = extra
            kwargs = {**kwargs, **added}
        return signature, self._check_inputs(kwargs, signature)

    # ---- calling ----------------------------------------------------------------------
    def forward(self, **kwargs: Any) -> Prediction:
        call = self._begin(kwargs)
        token = current_call.set(CallInfo(call.signature, call.inputs, call.adapter))
        try:
            if self.label_bias is not None:
                prediction = self._score_labels(call.lm, call.adapter, call.signature, call.messages, self.label_bias)
            else:
                prediction = self._complete(call.lm, call.adapter, call.signature, call.messages, call.params)
        finally:
            current_call.reset(token)
        return self._end(call, prediction)

    async def aforward(self, **kwargs: Any) -> Prediction:
        """:meth:`forward` for async code: the LM is awaited (``LM.acall``), no thread per call."""
        call = self._begin(kwargs)
        token = current_call.set(CallInfo(call.signature, call.inputs, call.adapter))
        try:
            if self.label_bias is not None:  # scoring reads local log-probabilities: a worker thread
                ctx = contextvars.copy_context()
                prediction = await asyncio.to_thread(
                    ctx.run, self._score_labels, call.lm, call.adapter, call.signature, call.messages,
                    self.label_bias)
            else:
                prediction = await replay_async(
                    lambda lm: self._complete(lm, call.adapter, call.signature, call.messages, call.params), call.lm)
        finally:
            current_call.reset(token)
        return self._end(call, prediction)

    def _begin(self, kwargs: dict[str, Any]) -> _Call:
        """Everything a call needs before the LM is asked (shared by forward and aforward)."""
        config = {**self.config, **kwargs.pop("config", {})}
        lm_override = kwargs.pop("lm", None)
        signature, inputs = self._prepare(kwargs)
        lm = lm_override or self.lm or current_lm()
        adapter = self._adapter_for(lm)
        messages = adapter.format(signature, active_demos(self), inputs)
        params = {**self._params(config, lm, adapter, signature), **call_params()}
        if getattr(lm, "api_base", None) and "constraint" not in params and "grammar" not in params:
            field = label_field(signature)
            if field is not None and getattr(lm, "reads_labels_from_logprobs", lambda: False)():
                # the label is read from top log-probabilities; listing the labels again at the end
                # would make a small model echo the first one (SST-2 train, served: 52 % vs 68 %)
                params["label_choices"] = [text for text, _ in labels(field)]
            else:
                messages = adapter.remind(signature, messages)  # a served model nothing constrains
        lm = callbacks.watched_lm(streamed_lm(lm, self, signature, adapter))  # both: lm itself unless in use
        return _Call(lm, adapter, signature, inputs, messages, params)

    def _end(self, call: _Call, prediction: Prediction) -> Prediction:
        inputs = call.inputs
        if call.signature is not self.signature:  # feedback / hint inputs are not part of the demo
            inputs = {k: v for k, v in inputs.items() if k in self.signature.inputs}
        _trace.record(self, inputs, prediction)
        note_call(self, inputs, prediction)
        lm_usage.note(getattr(call.lm, "model", "?"), prediction.usage)
        return prediction

    def _params(self, config: dict[str, Any], lm: LanguageModel, adapter: Adapter, signature: Signature) -> dict[str, Any]:
        params = dict(config)
        if "max_tokens" not in params and lm.kwargs.get("max_tokens") is None:
            hint = adapter.max_tokens(signature)
            params["max_tokens"] = hint or 256
        mode = lm.constraint_mode() if hasattr(lm, "constraint_mode") else "none"
        if mode != "none" and "grammar" not in params and "constraint" not in params:
            constraint = adapter.constraint(signature)
            if constraint is not None:
                params["constraint"] = constraint
        constrained = "grammar" in params or "constraint" in params
        if not constrained and "stop" not in params and lm.kwargs.get("stop") is None:
            stop = adapter.stop(signature)  # a constraint already ends the reply where it must
            if stop:
                params["stop"] = stop
        if params.get("n", 1) > 1 and not (params.get("temperature") or lm.kwargs.get("temperature")):
            params["temperature"] = 0.7  # n identical greedy samples would be pointless
        return params

    def _score_labels(self, lm: LanguageModel, adapter: Adapter, signature: Signature, messages: list[dict[str, str]],
                      bias: Mapping[str, float]) -> Prediction:
        field = label_field(signature)
        if field is None:
            raise SignatureError(
                f"{signature.name}: label_bias needs a signature whose one output is a label "
                f"(Literal, Enum or bool); outputs are {', '.join(signature.outputs)}"
            )
        choices = labels(field)
        replies = [adapter.render_reply(signature, {field.name: value}) for _, value in choices]
        completion = lm.score(messages, replies)
        assert completion.scores is not None
        adjusted = [s + float(bias.get(text, 0.0)) for s, (text, _) in zip(completion.scores, choices)]
        best = max(range(len(choices)), key=adjusted.__getitem__)  # the first label wins a tie
        usage = {k: int(completion.usage.get(k, 0) or 0) for k in ("prompt_tokens", "completion_tokens")}
        return Prediction.from_completions([adapter.parse(signature, replies[best])], usage)

    @staticmethod
    def _read_labels(adapter: Adapter, signature: Signature, reads: list[str | None] | None) -> list[dict[str, Any]]:
        """Replies whose text names no label, read from the label their log-probabilities favour."""
        field = label_field(signature) if reads else None
        if field is None or reads is None:
            return []
        values = dict(labels(field))
        return [adapter.parse(signature, adapter.render_reply(signature, {field.name: values[r]}))
                for r in reads if r in values]

    def _complete(
        self, lm: LanguageModel, adapter: Adapter, signature: Signature, messages: list[dict[str, str]],
        params: dict[str, Any]
    ) -> Prediction:
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        max_reasks = int(settings.get("max_reasks"))
        attempt = 0
        while True:
            attempt += 1
            completion = lm(messages, **params)
            for k in usage:
                usage[k] += int(completion.usage.get(k, 0) or 0)
            parsed, error = [], None
            for text in completion.texts:
                try:
                    parsed.append(adapter.parse(signature, text))
                except ValueParseError as exc:
                    error = error or exc
            if not parsed:
                parsed = self._read_labels(adapter, signature, getattr(completion, "label_reads", None))
            if parsed:
                return Prediction.from_completions(parsed, usage)
            assert error is not None
            if attempt > max_reasks:
                raise ParseError(
                    f"{signature.name}: could not parse the LM reply after {attempt} attempt(s): {error}",
                    field=error.field,
                    completion=completion.text,
                    attempts=attempt,
                    usage=usage,
                ) from error
            messages = [
                *messages,
                {"role": "assistant", "content": completion.text},
                {"role": "user", "content": adapter.reask_message(signature, error)},
            ]
