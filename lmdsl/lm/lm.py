"""`LM`: one model behind litellm, with lmdsl's cache, retries, history and usage."""

from __future__ import annotations

import asyncio
import copy as _copy
import hashlib
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lmdsl import settings
from lmdsl.errors import LmdslError, LMError, UsageError, UsageTypeError
from lmdsl.lm import history as _history
from lmdsl.lm import probe as _probe
from lmdsl.lm import server_tokens as _server_tokens
from lmdsl.lm._litellm import litellm as _litellm
from lmdsl.lm._litellm import transient_errors as _transient_errors
from lmdsl.lm.cache import SECRET_PARAMS, request_key, shared_cache
from lmdsl.lm.constrain import (
    FALLBACK,
    JSON_MODES,
    Constraint,
    check_mode,
    forcing,
    merge_params,
    wire_params,
)
from lmdsl.lm.label_logprobs import TOP_LOGPROBS, alternatives, read_label, reply_logprob
from lmdsl.lm.providers import Provider, ensure_provider, provider_for
from lmdsl.telemetry.spans import counts_retry, traced_lm_call
from lmdsl.utils import secrets as _secrets
from lmdsl.utils import usage as _usage

# Params that shape the request key but are never sent to a provider: the constraint mode and the
# endpoint's identity (a hash of api_base, never a key) keep replies of different modes and servers apart.
LOCAL_ONLY_PARAMS = ("rollout_id", "_constrain", "_endpoint", "_label_choices")
_log = logging.getLogger(__name__)


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
    # With label_choices= on an unconstrained provider: per text, the label its top log-probabilities favour.
    label_reads: list[str | None] | None = None

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
        constrain: str = "auto",
        **kwargs: Any,
    ):
        if not isinstance(model, str) or "/" not in model:
            raise UsageError(f"LM model must look like 'provider/model', got {model!r}")
        self.model = model
        self.constrain = check_mode(constrain)
        self._mode: str | None = None  # what "auto" resolved to, or a fallback after a rejection
        self._logprobs: bool | None = None  # whether the provider returns top_logprobs (None: not seen yet)
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

    # ---- what the provider can do -------------------------------------------------------
    @property
    def provider(self) -> Provider:
        return provider_for(self.model) or Provider()

    @property
    def api_base(self) -> str | None:
        """The endpoint: ``api_base=`` / ``base_url=``, else for ``openai/`` models the environment
        litellm reads (``OPENAI_API_BASE`` / ``OPENAI_BASE_URL``)."""
        base = self.kwargs.get("api_base") or self.kwargs.get("base_url")
        if not base and self.model.split("/", 1)[0] == "openai":
            base = os.environ.get("OPENAI_API_BASE") or os.environ.get("OPENAI_BASE_URL")
        return str(base) if base else None

    def constraint_mode(self) -> str:
        """The constraint mode calls use now: ``constrain`` as given, or for ``"auto"`` the
        provider's own (``local/``: gbnf), else for a custom ``api_base`` what a one-time probe of
        the server says, else json_schema where litellm knows the model supports response schemas,
        else none. A mode the provider rejected is replaced by the next one (see ``FALLBACK``)."""
        if self._mode is not None:
            return self._mode
        if self.constrain != "auto":
            self._mode = self.constrain
            return self._mode
        mode, settled = self._auto_mode()
        if settled:
            self._mode = mode
        return mode

    def _api_key(self) -> str | None:
        key = self.kwargs.get("api_key")
        return str(key) if key else None

    def _auto_mode(self) -> tuple[str, bool]:
        """(mode, settled): an unreachable server is probed again at the next call."""
        provider = self.provider
        if provider.constrain != "none":
            return provider.constrain, True
        if self.api_base is not None and self.model.split("/", 1)[0] in _OPENAI_COMPATIBLE:
            kind = _probe.server_kind(self.api_base, self._api_key())
            if kind is not None:
                return _probe.MODE_FOR_SERVER[kind], True
            if not _probe.reached(self.api_base):
                return "none", False
            _hint_once(self.api_base, f"{self.model} at {self.api_base}: lmdsl could not tell which server this is, "
                       "so replies are not constrained; if it is llama.cpp, vLLM or Ollama, pass "
                       "LM(..., constrain='gbnf' | 'vllm' | 'json_schema') for parseable replies")
            return "none", True
        if self.model.split("/", 1)[0] not in _SCHEMA_PROVIDERS:
            return "none", True
        try:
            if _litellm().supports_response_schema(model=self.model):
                return "json_schema", True
        except Exception:
            pass
        return "none", True

    @property
    def supports_grammar(self) -> bool:
        return self.constraint_mode() == "gbnf"

    @property
    def json_replies(self) -> bool:
        """Whether constrained replies are JSON objects (adapters lay prompts out as JSON then)."""
        return self.constraint_mode() in JSON_MODES

    def reads_labels_from_logprobs(self) -> bool:
        """Whether an unconstrained call given ``label_choices=`` asks for top log-probabilities to read
        the label from (see lmdsl.lm.label_logprobs): in constraint mode none, unless the provider
        refused them or answered without them."""
        return self.constraint_mode() == "none" and self._logprobs is not False and not self.provider.in_process

    def _endpoint(self) -> str | None:
        base = self.api_base
        return hashlib.sha256(base.rstrip("/").encode()).hexdigest()[:16] if base else None

    def describe(self) -> dict[str, Any]:
        """What may be saved: the model name and allow-listed generation settings (never
        endpoints, headers or credentials: see lmdsl.utils.secrets)."""
        state = {"model": self.model, **_secrets.savable_params(self.kwargs)}
        if self.model_sha256:
            state["model_sha256"] = self.model_sha256
        return state

    # ---- calling ----------------------------------------------------------------------
    def _params(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """The request: settings, the constraint in the provider's own fields, and what keys the cache."""
        params = {**self.kwargs, **overrides}
        constraint = params.pop("constraint", None)
        mode = self.constraint_mode()
        grammar = params.pop("grammar", None)
        if grammar and constraint is None:  # a raw grammar from the caller: sent only where one is understood
            constraint = Constraint(grammar=grammar)
        if constraint is not None and not isinstance(constraint, Constraint):
            raise UsageTypeError(f"constraint must be a lmdsl.lm.constrain.Constraint, got {type(constraint).__name__}")
        params = merge_params(params, wire_params(mode, constraint, in_process=self.provider.in_process))
        choices = params.pop("label_choices", None)
        if choices and constraint is None and self.reads_labels_from_logprobs():
            params.setdefault("logprobs", True)
            params.setdefault("top_logprobs", TOP_LOGPROBS)
            params["_label_choices"] = [str(c) for c in choices]
        params["_constrain"] = mode
        params["_endpoint"] = self._endpoint()
        return {k: v for k, v in params.items() if v is not None}

    def __call__(self, messages: list[dict[str, Any]], **overrides: Any) -> Completion:
        params = self._params(overrides)
        return self._through_cache(messages, params, lambda: self._constrained(messages, params))

    def _constrained(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        """One call; if the provider rejects the constraint fields (HTTP 400), the call is made once
        without them and, when that works, this LM falls back to the next mode for later calls."""
        try:
            return self._with_retries(messages, params)
        except Exception as exc:
            plain = self._plain_after(exc, params)
            result = self._with_retries(messages, plain)
            self._remember_rejection(exc, params)
            return result

    async def _aconstrained(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        """:meth:`_constrained` for ``acall``."""
        try:
            return await self._acomplete_with_retries(messages, params)
        except Exception as exc:
            plain = self._plain_after(exc, params)
            result = await self._acomplete_with_retries(messages, plain)
            self._remember_rejection(exc, params)
            return result

    @staticmethod
    def _plain_after(exc: Exception, params: dict[str, Any]) -> dict[str, Any]:
        """The request without the fields a provider may reject, or ``exc`` re-raised when it was no rejection."""
        plain = _without_logprobs(_without_constraint(params))
        if plain == params or not _is_rejection(exc):
            raise exc
        return plain

    def _remember_rejection(self, exc: Exception, params: dict[str, Any]) -> None:
        """After the plain request worked: no logprobs and/or the next constraint mode from now on."""
        reason = str(exc).splitlines()[0][:200]
        if "_label_choices" in params:
            self._logprobs = False
            _log.warning("%s rejected logprobs (%s); labels are read from the reply's text for this LM",
                         self.model, reason)
        if _without_constraint(params) != params:
            mode = params.get("_constrain", "none")
            self._mode = FALLBACK.get(mode, "none")
            _log.warning("%s rejected constrain=%r (%s); falling back to %r for this LM",
                         self.model, mode, reason, self._mode)

    @traced_lm_call  # a span per LM call (cache hits too) when tracing is on
    def _through_cache(self, messages: list[dict[str, Any]], params: dict[str, Any],
                       compute: Callable[[], Completion],
                       usable: Callable[[Completion], bool] | None = None) -> Completion:
        """A cached answer when there is one (and ``usable`` accepts it), else ``compute()``, stored."""
        key, hit = self._lookup(messages, params, usable)
        return hit if hit is not None else self._store(key, messages, params, compute())

    def _lookup(self, messages: list[dict[str, Any]], params: dict[str, Any],
                usable: Callable[[Completion], bool] | None = None) -> tuple[str | None, Completion | None]:
        """(cache key or None when caching is off, the usable cached answer -- already recorded -- or None).

        The one cache step of every call path: sync, async, streamed; a miss goes on to ``_store``.
        """
        key = request_key(self.model, messages, params) if self.cache else None
        hit = self._cached(key)
        if hit is None or (usable is not None and not usable(hit)):
            return key, None
        return key, self._finish(messages, params, hit)

    def _store(self, key: str | None, messages: list[dict[str, Any]], params: dict[str, Any],
               result: Completion) -> Completion:
        """Cache a fresh answer under ``key`` (from ``_lookup``) and record it."""
        if key is not None:
            shared_cache().put(key, _to_record(result))
        return self._finish(messages, params, result)

    @traced_lm_call
    async def acall(self, messages: list[dict[str, Any]], **overrides: Any) -> Completion:
        params = self._params(overrides)
        key, hit = self._lookup(messages, params)
        if hit is not None:
            return hit
        return self._store(key, messages, params, await self._aconstrained(messages, params))

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
        """One uncached scoring request. Test doubles override this.

        A provider that computes log-likelihoods itself (the local models) does; a server that can
        be made to write a given reply (gbnf: llama.cpp; vllm) is asked to write each candidate with
        ``logprobs`` on, and the reply's token log-probabilities are summed (the server reports them
        from the model's distribution, before the constraint). Otherwise: LMError.
        """
        provider = self.provider
        if provider.score is not None:
            ensure_provider(self.model)
            scores, prompt_tokens, completion_tokens = provider.score(self.model.split("/", 1)[1], messages, replies)
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
            return Completion(replies, usage, False, self.model, scores=[float(s) for s in scores])
        mode = self.constraint_mode()
        if mode not in ("gbnf", "vllm"):
            raise LMError(
                f"{self.model}: scoring candidate replies (label_bias, Calibrate) needs the log-probabilities of "
                f"given tokens: lmdsl reads them from local models, and from servers it can make write a given "
                f"reply (constrain='gbnf' for llama.cpp, 'vllm'); this LM's constraint mode is {mode!r}"
            )
        return self._score_by_forcing(messages, replies, mode)

    def _score_by_forcing(self, messages: list[dict[str, Any]], replies: list[str], mode: str) -> Completion:
        scores: list[float] = []
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        for reply in replies:
            params = {k: v for k, v in self.kwargs.items() if v is not None}
            params.update(temperature=0.0, max_tokens=len(reply) + 8, logprobs=True, top_logprobs=1)  # llama_cpp.server: none without top_logprobs
            params = merge_params(params, forcing(mode, reply, in_process=self.provider.in_process))
            params.update(self._canonical_tokens_bias(reply))
            response = self._retrying(self._raw, messages, params)
            choice = response.choices[0]
            written = choice.message.content or ""
            content = getattr(getattr(choice, "logprobs", None), "content", None)
            if written.strip() != reply.strip() or not content:
                raise LMError(
                    f"{self.model}: the server did not return log-probabilities for the forced reply {reply!r} "
                    f"(wrote {written[:80]!r}); scoring needs a server that honours constrain={mode!r} and logprobs"
                )
            scores.append(reply_logprob(content, written))
            for key in usage:
                usage[key] += int(getattr(getattr(response, "usage", None), key, 0) or 0)
        return Completion(replies, usage, False, self.model, scores=scores)

    def _canonical_tokens_bias(self, reply: str) -> dict[str, Any]:
        """``logit_bias`` on the reply's own token ids (from the server's tokenizer), so that the forced
        reply is written in its canonical tokens and scores as it does in-process; {} when the server
        cannot tokenize (the sums are then of whatever tokenization the server picked: warned once)."""
        base = self.api_base
        tokens = _server_tokens.reply_tokens(base, reply, self._api_key()) if base else None
        if not tokens:
            _hint_once(f"tokenize:{base}", f"{self.model}: the server has no tokenize endpoint lmdsl knows, so "
                       "label scores sum the tokens it chose to write each label in (rankings may differ from "
                       "the model's own tokenization)")
            return {}
        return {"logit_bias": {str(t): 100.0 for t in dict.fromkeys(tokens)}}  # OpenAI's maximum bias

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
            label_reads=record.get("label_reads"),
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
        return self._retrying(self._complete, messages, params)

    def _retrying(self, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)``, retried with backoff on transient provider errors only."""
        if self.num_retries <= 0:
            return call(*args)
        import tenacity

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.num_retries + 1),
            wait=tenacity.wait_exponential(multiplier=0.5, max=20),
            retry=tenacity.retry_if_exception(self._is_transient),
            reraise=True,
        )
        return retrying(call, *args)

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
        return self._from_response(self._raw(messages, params), params.get("_label_choices"))

    def _raw(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Any:
        """litellm's response to one call, errors translated."""
        ensure_provider(self.model)
        litellm = _litellm()
        try:
            return litellm.completion(model=self.model, messages=messages, **self._provider_params(params))
        except Exception as exc:
            raise self._translate(exc) from exc

    async def _acomplete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        ensure_provider(self.model)
        litellm = _litellm()
        try:
            response = await litellm.acompletion(
                model=self.model, messages=messages, **self._provider_params(params)
            )
        except Exception as exc:
            raise self._translate(exc) from exc
        return self._from_response(response, params.get("_label_choices"))

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

    def _from_response(self, response: Any, label_choices: list[str] | None = None) -> Completion:
        texts = [(c.message.content or "") for c in response.choices]
        reads = None
        if label_choices:
            found = [alternatives(c) for c in response.choices]
            if not any(found):
                self._logprobs = False  # asked for and not given: read labels from the text from now on
            reads = [read_label(a, label_choices) for a in found]
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
        return Completion(texts, usage, False, self.model, reasons, cost, label_reads=reads)


def _to_record(result: Completion) -> dict[str, Any]:
    record: dict[str, Any] = {"outputs": result.texts, "usage": result.usage, "finish_reasons": result.finish_reasons}
    if result.scores is not None:
        record["scores"] = result.scores
    if result.label_reads is not None:
        record["label_reads"] = result.label_reads
    return record


def _valid_scores(scores: Any, count: int) -> bool:
    """A cached score list is used only if it is intact (a damaged entry is recomputed)."""
    return (isinstance(scores, list) and len(scores) == count
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in scores))


# litellm providers with models that take a JSON schema as response_format; litellm is asked (an
# import of seconds) only for these, which model does.
_SCHEMA_PROVIDERS = frozenset({
    "openai", "azure", "azure_ai", "gemini", "vertex_ai", "vertex_ai_beta", "mistral", "anthropic", "bedrock",
    "groq", "fireworks_ai", "together_ai", "deepseek", "xai", "cerebras", "databricks", "openrouter",
})
# Prefixes litellm sends to an OpenAI-compatible endpoint: with a custom api_base, the server is probed.
_OPENAI_COMPATIBLE = frozenset({"openai", "text-completion-openai", "custom_openai"})
_hinted: set[str] = set()


def _hint_once(key: str, message: str) -> None:
    if key not in _hinted:
        _hinted.add(key)
        _log.warning(message)


_CONSTRAINT_FIELDS = ("grammar", "response_format", "format")
# How servers name a constraint field they refuse in an error that is not a 400.
_NAMED_FIELDS = ("'response_format'", "'grammar'", "'structured_outputs'", "response_format.", "json_schema",
                 "'logprobs'", "'top_logprobs'")


def _without_constraint(params: dict[str, Any]) -> dict[str, Any]:
    plain = {k: v for k, v in params.items() if k not in _CONSTRAINT_FIELDS}
    body = plain.get("extra_body")
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ("grammar", "structured_outputs")}
        plain["extra_body"] = body or None
        if not body:
            plain.pop("extra_body")
    if plain != params:
        plain["_constrain"] = "none"
    return plain


def _without_logprobs(params: dict[str, Any]) -> dict[str, Any]:
    if "_label_choices" not in params:
        return params
    return {k: v for k, v in params.items() if k not in ("logprobs", "top_logprobs", "_label_choices")}


def _is_rejection(exc: BaseException) -> bool:
    """An HTTP 400 from the provider that is not about the prompt's length."""
    if isinstance(exc, LmdslError) and not isinstance(exc, LMError):
        return False
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:  # a chain may loop back on itself
        seen.add(id(cause))
        status = getattr(cause, "status_code", None)
        name = type(cause).__name__
        if "ContextWindow" in name:
            return False
        if status == 400 or name in ("BadRequestError", "UnprocessableEntityError") or status == 422:
            return not type(cause).__module__.startswith("lmdsl")
        if any(field in str(cause) for field in _NAMED_FIELDS):  # e.g. a 500 for a request it failed to validate
            return True
        cause = cause.__cause__
    return False
