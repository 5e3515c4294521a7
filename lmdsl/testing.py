"""Test doubles. ``ScriptedLM`` answers by output field and goes through the real adapter and LM path."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from lmdsl.lm.lm import LM, Completion
from lmdsl.lm.request import current_call

Answer = Mapping[str, Any] | str


class ScriptedLM(LM):
    """An LM whose replies are scripted as output-field values.

    ``answers`` may be a list consumed in order (dicts of field values, or raw reply
    strings to test parsing), a dict keyed by an input value, or a function of the inputs
    returning a dict. Each dict is rendered by the calling predictor's adapter into the
    text a model would have sent, so formatting and parsing are exercised for real; the
    call goes through the LM layer (history, usage, optional cache) like any model.

    ``LM.score`` (label scoring, see ``Predict.label_bias``) asks ``scorer(inputs, replies)``
    for one log-likelihood per candidate reply; without a scorer, the reply equal to the
    scripted answer scores 0.0 and every other reply -10.0.
    """

    def __init__(self, answers: list[Answer] | Mapping[str, Answer] | Callable[[dict[str, Any]], Answer],
                 *, model: str = "scripted/lm", cache: bool = False,
                 scorer: Callable[[dict[str, Any], list[str]], list[float]] | None = None, **kwargs: Any):
        super().__init__(model, cache=cache, num_retries=0, **kwargs)
        self._answers = answers
        self._scorer = scorer
        self._cursor = 0
        self._lock = threading.Lock()
        self.requests: list[list[dict[str, Any]]] = []

    def _next_answer(self, inputs: dict[str, Any]) -> Answer:
        answers = self._answers
        if callable(answers):
            return answers(inputs)
        if isinstance(answers, Mapping):
            for value in inputs.values():
                key = value if isinstance(value, str) else repr(value)
                if key in answers:
                    return answers[key]
            raise LookupError(f"ScriptedLM: no scripted answer for inputs {inputs!r}")
        with self._lock:
            if self._cursor >= len(answers):
                raise LookupError(f"ScriptedLM: ran out of scripted answers after {len(answers)} call(s)")
            answer = answers[self._cursor]
            self._cursor += 1
        return answer

    @property
    def remaining(self) -> int | None:
        return len(self._answers) - self._cursor if isinstance(self._answers, list) else None

    def _complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        call = current_call.get()
        inputs = call.inputs if call else {}
        texts = []
        for _ in range(int(params.get("n", 1))):
            answer = self._next_answer(inputs)
            if isinstance(answer, str):
                texts.append(answer)
            elif call is None:
                raise LookupError("ScriptedLM: a dict answer needs a predictor call to render it")
            else:
                texts.append(call.adapter.render_reply(call.signature, answer))
        with self._lock:
            self.requests.append(messages)
        prompt_tokens = sum(len(str(m["content"]).split()) for m in messages)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": sum(len(t.split()) for t in texts)}
        return Completion(texts, usage, False, self.model, ["stop"] * len(texts))

    def _score(self, messages: list[dict[str, Any]], replies: list[str]) -> Completion:
        call = current_call.get()
        inputs = call.inputs if call else {}
        if self._scorer is not None:
            scores = [float(x) for x in self._scorer(inputs, replies)]
        else:
            answer = self._next_answer(inputs)
            if not isinstance(answer, str):
                if call is None:
                    raise LookupError("ScriptedLM: a dict answer needs a predictor call to render it")
                answer = call.adapter.render_reply(call.signature, answer)
            scores = [0.0 if reply == answer else -10.0 for reply in replies]
        with self._lock:
            self.requests.append(messages)
        usage = {"prompt_tokens": sum(len(str(m["content"]).split()) for m in messages),
                 "completion_tokens": sum(len(r.split()) for r in replies)}
        return Completion(list(replies), usage, False, self.model, scores=scores)

    async def _acomplete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        return self._complete(messages, params)
