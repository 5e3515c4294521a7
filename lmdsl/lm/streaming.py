"""Streamed LM calls: the reply's text piece by piece to ``on_text``, then the same Completion
(cached, recorded in history and usage) that an ordinary call returns.

* hosted models: ``litellm.completion(..., stream=True)`` (``acompletion`` for async);
* the embedded model (``local/``): llama.cpp's own token stream (``engine.generate(on_text=)``);
* a cached reply, a call with ``n > 1`` and test doubles (LMs that override ``_complete``)
  deliver the whole text as one piece.

No retries: a stream that fails half way has already shown text, so the error is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lmdsl.lm.lm import LM, Completion

if TYPE_CHECKING:
    from lmdsl.lm.protocol import LanguageModel

OnText = Callable[[str], None]


def streamed_call(lm: LanguageModel, messages: list[dict[str, Any]], overrides: dict[str, Any],
                  on_text: OnText) -> Completion:
    real = _streaming(lm, overrides, LM._complete, "_complete")
    if real is None:
        result = lm(messages, **overrides)
        on_text(result.text)
        return result
    lm, params = real
    key, hit = _cache_hit(lm, messages, params, on_text)
    if hit is not None:
        return hit
    if lm.provider.in_process:
        result = _local(lm, messages, params, on_text)
    else:
        result = _hosted(lm, messages, params, on_text)
    return lm._store(key, messages, params, result)


def _cache_hit(lm: LM, messages: list[dict[str, Any]], params: dict[str, Any],
               on_text: OnText) -> tuple[str | None, Completion | None]:
    """(cache key, cached reply already recorded and streamed as one piece, or None)."""
    key, hit = lm._lookup(messages, params)
    if hit is not None:
        on_text(hit.text)
    return key, hit


async def astreamed_call(lm: LanguageModel, messages: list[dict[str, Any]], overrides: dict[str, Any],
                         on_text: OnText) -> Completion:
    real = _streaming(lm, overrides, LM._acomplete, "_acomplete")
    if real is None:
        result = await lm.acall(messages, **overrides)
        on_text(result.text)
        return result
    lm, params = real
    key, hit = _cache_hit(lm, messages, params, on_text)
    if hit is not None:
        return hit
    if lm.provider.in_process:
        # llama.cpp generates in a worker thread (the model's lock is a thread lock); the pieces
        # reach on_text from there, which the async stream makes thread-safe.
        result = await asyncio.to_thread(_local, lm, messages, params, on_text)
    else:
        result = await _ahosted(lm, messages, params, on_text)
    return lm._store(key, messages, params, result)


def _streaming(lm: LanguageModel, overrides: dict[str, Any], base: Any, name: str) -> tuple[LM, dict[str, Any]] | None:
    """(the LM, the call's params) when this call can really stream: a real LM (not a test double
    or a wrapper) and one choice; None otherwise."""
    if not isinstance(lm, LM) or getattr(type(lm), name, None) is not base:
        return None
    params = lm._params(overrides)
    return (lm, params) if int(params.get("n", 1) or 1) == 1 else None


def _local(lm: LM, messages: list[dict[str, Any]], params: dict[str, Any], on_text: OnText) -> Completion:
    from lmdsl.errors import LmdslError
    from lmdsl.lm.local.engine import generate
    from lmdsl.lm.local.provider import _generation_params

    try:
        result = generate(lm.model.split("/", 1)[1], messages, on_text=on_text,
                          **_generation_params(lm._provider_params(params)))
    except LmdslError:
        raise
    except Exception as exc:
        raise lm._translate(exc) from exc
    usage = {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens}
    return Completion([c.text for c in result.choices], usage, False, lm.model,
                      [c.finish_reason for c in result.choices])


def _request(lm: LM, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    from lmdsl.lm.providers import ensure_provider

    ensure_provider(lm.model)
    return {"model": lm.model, "messages": messages, "stream": True, "stream_options": {"include_usage": True},
            **lm._provider_params(params)}


class _Collector:
    """Text, finish reason and usage gathered from stream chunks."""

    def __init__(self, lm: LM, on_text: OnText):
        self.lm = lm
        self.on_text = on_text
        self.parts: list[str] = []
        self.finish_reason = ""
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}

    def add(self, chunk: Any) -> None:
        choices = getattr(chunk, "choices", None) or []
        if choices:
            delta = getattr(choices[0], "delta", None)
            text = getattr(delta, "content", None) if delta is not None else None
            if text:
                self.parts.append(text)
                self.on_text(text)
            self.finish_reason = str(getattr(choices[0], "finish_reason", "") or self.finish_reason)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            for key in self.usage:
                self.usage[key] = int(getattr(usage, key, 0) or 0) or self.usage[key]

    def completion(self) -> Completion:
        return Completion(["".join(self.parts)], dict(self.usage), False, self.lm.model, [self.finish_reason])


def _hosted(lm: LM, messages: list[dict[str, Any]], params: dict[str, Any], on_text: OnText) -> Completion:
    from lmdsl.lm._litellm import litellm

    collector = _Collector(lm, on_text)
    try:
        for chunk in litellm().completion(**_request(lm, messages, params)):
            collector.add(chunk)
    except Exception as exc:
        raise lm._translate(exc) from exc
    return collector.completion()


async def _ahosted(lm: LM, messages: list[dict[str, Any]], params: dict[str, Any], on_text: OnText) -> Completion:
    from lmdsl.lm._litellm import litellm

    collector = _Collector(lm, on_text)
    try:
        response = await litellm().acompletion(**_request(lm, messages, params))
        async for chunk in response:
            collector.add(chunk)
    except Exception as exc:
        raise lm._translate(exc) from exc
    return collector.completion()
