"""`LM`: one model behind litellm, with lmdsl's cache, retries, history and usage."""

from __future__ import annotations

import asyncio
import copy as _copy
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lmdsl import settings
from lmdsl.errors import LmdslError, LMError
from lmdsl.lm import history as _history
from lmdsl.lm import secrets as _secrets
from lmdsl.lm import usage as _usage
from lmdsl.lm._litellm import litellm as _litellm
from lmdsl.lm._litellm import transient_errors as _transient_errors
from lmdsl.lm.cache import SECRET_PARAMS, request_key, shared_cache
from lmdsl.lm.providers import ensure_provider
from lmdsl.telemetry.spans import counts_retry, traced_lm_call

# Params that shape the request key but are never sent to a provider.
LOCAL_ONLY_PARAMS = ("rollout_id",)


@dataclass
class Completion:
    """What one LM call returned: a text per sampled choice, plus accounting."""

    texts: list[str]
    usage: dict[str, int] = field(default_factory=dict)
    cached: bool = False
    model: str = ""
    finish_reasons: list[str] = field(default_factory=list)
    cost: float | None = None
    scores: list[float] | None = None  # LM.score: log-likelihood of each text, given the prompt

    @property
    def text(self) -> str:
        return self.texts[0] if self.texts else ""


def _unwrap(exc: BaseException) -> BaseException:
    """litellm wraps custom-provider exceptions; surface lmdsl's own error when there is one."""
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, LmdslError):
            return cur
        seen.add(id(cur))
        inner = getattr(cur, "original_exception", None)
        cur = inner if isinstance(inner, BaseException) else (cur.__cause__ or cur.__context__)
    return exc


def _plain_lmdsl_error(exc: LmdslError) -> LmdslError:
    """lmdsl's own error without a provider's twin class around it: the local provider raises
    ``LocalLocalModelNotInstalled`` (a LocalModelNotInstalled that is also a litellm error), and
    that generated class name is what users saw in error rows."""
    cls = next(c for c in type(exc).__mro__ if issubclass(c, LmdslError) and c.__module__ == "lmdsl.errors")
    if cls is type(exc):
        return exc
    plain = cls.__new__(cls)
    plain.__dict__.update({k: v for k, v in vars(exc).items() if k != "lmdsl_message"})
    plain.args = (str(exc),)
    return plain


class LM:
    """A language model: ``LM("openai/gpt-4o-mini")``, ``LM("local/smollm2")``.

    Defaults: temperature 0, lmdsl's cache on, 3 retries with backoff on transient errors.
    ``lm.history`` keeps the last ``history_size`` calls; without the argument, as many as the
    ``history_size`` setting says when a call is recorded (``lmdsl.configure(history_size=...)``
    or ``lmdsl.context``, default 200), like other settings an explicit argument overrides.
    """

    supports_grammar_prefixes = ("local/",)
    _history_lock = threading.Lock()  # appends and resizes of any LM's history (cheap next to a call)

    def __init__(
        self,
        model: str,
        *,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        cache: bool = True,
        num_retries: int = 3,
        history_size: int | None = None,
        **kwargs: Any,
    ):
        if not isinstance(model, str) or "/" not in model:
            raise ValueError(f"LM model must look like 'provider/model', got {model!r}")
        self.model = model
        # For a tuned local model: saved with the program so that load() can refuse an altered file.
        self.model_sha256: str | None = kwargs.pop("model_sha256", None)
        self.cache = cache
        self.num_retries = num_retries
        self.kwargs: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens, **kwargs}
        self.history_size = history_size  # None: follow the history_size setting
        self.history: deque[dict[str, Any]] = deque(maxlen=self._history_limit())
        self.usage = _usage.Usage()

    def __repr__(self) -> str:
        return f"LM({self.model!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> LM:
        # Programs are deep-copied by optimizers; the model (and its history) is shared.
        return self

    def copy(self, **overrides: Any) -> LM:
        new = _copy.copy(self)
        new.kwargs = {**self.kwargs, **overrides}
        new.history = deque(maxlen=self.history.maxlen)
        new.usage = _usage.Usage()
        return new

    def _history_limit(self) -> int | None:
        size = self.history_size if self.history_size is not None else settings.get("history_size")
        return None if size is None else int(size)

    @property
    def supports_grammar(self) -> bool:
        return self.model.startswith(self.supports_grammar_prefixes)

    def describe(self) -> dict[str, Any]:
        """What may be saved: the model name and allow-listed generation settings (never
        endpoints, headers or credentials: see lmdsl.lm.secrets)."""
        state = {"model": self.model, **_secrets.savable_params(self.kwargs)}
        if self.model_sha256:
            state["model_sha256"] = self.model_sha256
        return state

    # ---- calling ----------------------------------------------------------------------
    def _params(self, overrides: dict[str, Any]) -> dict[str, Any]:
        params = {**self.kwargs, **overrides}
        if not self.supports_grammar:
            params.pop("grammar", None)
        return {k: v for k, v in params.items() if v is not None}

    def __call__(self, messages: list[dict[str, Any]], **overrides: Any) -> Completion:
        params = self._params(overrides)
        return self._through_cache(messages, params, lambda: self._with_retries(messages, params))

    @traced_lm_call  # a span per LM call (cache hits too) when tracing is on
    def _through_cache(self, messages: list[dict[str, Any]], params: dict[str, Any],
                       compute: Callable[[], Completion],
                       usable: Callable[[Completion], bool] | None = None) -> Completion:
        """A cached answer when there is one (and ``usable`` accepts it), else ``compute()``, stored."""
        key = request_key(self.model, messages, params) if self.cache else None
        hit = self._cached(key)
        if hit is not None and (usable is None or usable(hit)):
            return self._finish(messages, params, hit)
        result = compute()
        if key is not None:
            shared_cache().put(key, _to_record(result))
        return self._finish(messages, params, result)

    @traced_lm_call
    async def acall(self, messages: list[dict[str, Any]], **overrides: Any) -> Completion:
        params = self._params(overrides)
        key = request_key(self.model, messages, params) if self.cache else None
        hit = self._cached(key)
        if hit is not None:
            return self._finish(messages, params, hit)
        result = await self._acomplete_with_retries(messages, params)
        if key is not None:
            shared_cache().put(key, _to_record(result))
        return self._finish(messages, params, result)

    def score(self, messages: list[dict[str, Any]], replies: list[str], **overrides: Any) -> Completion:
        """How likely the model finds each candidate reply: ``completion.scores[i]`` is the summed
        token log-probability of ``replies[i]`` as the assistant's answer to ``messages``.

        Cached, recorded in history and counted in usage like a call. Only models whose prompt
        log-probabilities lmdsl can read support it (the local models); others raise LMError.
        """
        replies = [str(r) for r in replies]
        params = {"score_replies": replies, **{k: v for k, v in overrides.items() if v is not None}}
        return self._through_cache(messages, params, lambda: self._score(messages, replies),
                                   usable=lambda hit: _valid_scores(hit.scores, len(replies)))

    def _score(self, messages: list[dict[str, Any]], replies: list[str]) -> Completion:
        """One uncached scoring request. Test doubles override this."""
        if not self.model.startswith("local/"):
            raise LMError(
                f"{self.model}: scoring candidate replies needs the log-probabilities of given tokens, "
                "which lmdsl reads only from local models (local/...); generate instead (no label_bias)"
            )
        from lmdsl.lm.local import score_replies

        result = score_replies(self.model[len("local/"):], messages, replies)
        usage = {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens}
        return Completion(replies, usage, False, self.model, scores=list(result.scores))

    def _cached(self, key: str | None) -> Completion | None:
        if key is None:
            return None
        record = shared_cache().get(key)
        if record is None:
            return None
        return Completion(
            texts=list(record["outputs"]),
            usage=dict(record.get("usage") or {}),
            cached=True,
            model=self.model,
            finish_reasons=list(record.get("finish_reasons") or []),
            scores=record.get("scores"),  # checked by the caller that asked for scores
        )

    def _finish(self, messages: list[dict[str, Any]], params: dict[str, Any], result: Completion) -> Completion:
        entry = {
            "model": self.model,
            "messages": messages,
            "params": _secrets.history_params(
                {k: v for k, v in params.items() if k != "grammar" and k not in SECRET_PARAMS}),
            "outputs": result.texts,
            **({"scores": result.scores} if result.scores is not None else {}),
            "usage": result.usage,
            "cached": result.cached,
            "timestamp": time.time(),
        }
        entry = _secrets.scrub_value(entry, _secrets.secret_values(self.kwargs))  # no key in history
        with self._history_lock:
            limit = self._history_limit()
            if limit != self.history.maxlen:  # the setting changed since the last call
                self.history = deque(self.history, maxlen=limit)
            self.history.append(entry)
        _history.remember(entry)
        self.usage.add(result.usage, cached=result.cached, cost=result.cost)
        _usage.record(result.usage, cached=result.cached, cost=result.cost)
        return result

    def _with_retries(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        if self.num_retries <= 0:
            return self._complete(messages, params)
        import tenacity

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.num_retries + 1),
            wait=tenacity.wait_exponential(multiplier=0.5, max=20),
            retry=tenacity.retry_if_exception(self._is_transient),
            reraise=True,
        )
        return retrying(self._complete, messages, params)

    async def _acomplete_with_retries(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        attempt = 0
        while True:
            try:
                return await self._acomplete(messages, params)
            except Exception as exc:
                attempt += 1
                if attempt > self.num_retries or not self._is_transient(exc):
                    raise
                await asyncio.sleep(min(20.0, 0.5 * 2**attempt))

    @counts_retry  # the open LM span counts the retries
    def _is_transient(self, exc: BaseException) -> bool:
        # Only litellm raises the transient kinds: never import it (seconds) to classify another error.
        if "litellm" not in sys.modules or _secrets.is_auth_failure(exc):  # a bad key stays bad
            return False
        return isinstance(exc, _transient_errors())

    def _provider_params(self, params: dict[str, Any]) -> dict[str, Any]:
        sent = {k: v for k, v in params.items() if k not in LOCAL_ONLY_PARAMS}
        sent["num_retries"] = 0  # lmdsl retries itself, only on transient errors
        return sent

    def _complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        """One uncached provider call. Test doubles override this."""
        ensure_provider(self.model)
        litellm = _litellm()
        try:
            response = litellm.completion(model=self.model, messages=messages, **self._provider_params(params))
        except Exception as exc:
            raise self._translate(exc) from exc
        return self._from_response(response)

    async def _acomplete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        ensure_provider(self.model)
        litellm = _litellm()
        try:
            response = await litellm.acompletion(
                model=self.model, messages=messages, **self._provider_params(params)
            )
        except Exception as exc:
            raise self._translate(exc) from exc
        return self._from_response(response)

    def _translate(self, exc: Exception) -> BaseException:
        inner = _unwrap(exc)
        if isinstance(inner, LmdslError):
            return _plain_lmdsl_error(inner)
        if self._is_transient(exc):
            return _secrets.scrub_exception(exc, self.kwargs)  # kept for the retry loop, without keys
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = _secrets.scrub(f"{type(exc).__name__}: {message}", self.kwargs)
        hint = " (authentication failed: not retried; check the API key)" if _secrets.is_auth_failure(exc) else ""
        return LMError(f"{self.model}: {message}{hint}")

    def _from_response(self, response: Any) -> Completion:
        texts = [(c.message.content or "") for c in response.choices]
        reasons = [str(getattr(c, "finish_reason", "") or "") for c in response.choices]
        usage_obj = getattr(response, "usage", None)
        usage = {
            "prompt_tokens": int(getattr(usage_obj, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(usage_obj, "completion_tokens", 0) or 0),
        }
        cost = None
        hidden = getattr(response, "_hidden_params", None) or {}
        if isinstance(hidden, dict):
            cost = hidden.get("response_cost")
        return Completion(texts, usage, False, self.model, reasons, cost)


def _to_record(result: Completion) -> dict[str, Any]:
    record = {"outputs": result.texts, "usage": result.usage, "finish_reasons": result.finish_reasons}
    if result.scores is not None:
        record["scores"] = result.scores
    return record


def _valid_scores(scores: Any, count: int) -> bool:
    """A cached score list is used only if it is intact (a damaged entry is recomputed)."""
    return (isinstance(scores, list) and len(scores) == count
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in scores))
