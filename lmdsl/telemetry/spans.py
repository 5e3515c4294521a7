"""Where spans are made: program/module/predictor calls, LM calls, and named phases.

Each hook is a decorator on the method it observes, so the observed file carries one line
and tracing off costs one settings lookup. Span attributes follow OpenTelemetry's GenAI
conventions where one exists (``gen_ai.*``) and use ``lmdsl.*`` otherwise.
"""

from __future__ import annotations

import contextvars
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lmdsl.telemetry import state
from lmdsl.telemetry.scrub import scrub, secrets_of

if TYPE_CHECKING:
    from lmdsl.lm.lm import LM

CONTENT_LIMIT = 20_000  # characters of one prompt/reply attribute, when content is recorded


@dataclass
class _Frame:
    """Counters of the innermost open lmdsl span, for what its children add up to."""

    kind: str
    lm_calls: int = 0
    transient: list[BaseException] = field(default_factory=list)  # transient errors met: one per retry


_frame: contextvars.ContextVar[_Frame | None] = contextvars.ContextVar("lmdsl_span_frame", default=None)


def traced_call(call: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``Module.__call__``: a span per program, module or predictor call."""

    @functools.wraps(call)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        tracer = state.tracer()
        if tracer is None:
            return call(self, *args, **kwargs)
        return _module_span(tracer, call, self, args, kwargs)

    return wrapper


def traced_lm_call(call: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate the LM's call path (sync or async): a span per LM call, cache hits included."""
    import inspect

    if inspect.iscoroutinefunction(call):
        @functools.wraps(call)
        async def async_wrapper(self: Any, messages: Any, *args: Any, **kwargs: Any) -> Any:
            tracer = state.tracer()
            if tracer is None:
                return await call(self, messages, *args, **kwargs)
            with _LMSpan(tracer, self, messages, args, kwargs) as span:
                return span.done(await call(self, messages, *args, **kwargs))

        return async_wrapper

    @functools.wraps(call)
    def wrapper(self: Any, messages: Any, *args: Any, **kwargs: Any) -> Any:
        tracer = state.tracer()
        if tracer is None:
            return call(self, messages, *args, **kwargs)
        with _LMSpan(tracer, self, messages, args, kwargs) as span:
            return span.done(call(self, messages, *args, **kwargs))

    return wrapper


def counts_retry(check: Callable[..., bool]) -> Callable[..., bool]:
    """Decorate the LM's "is this error transient?" check: each distinct transient error met in
    the open LM span is one retry (the check may run more than once for the same error)."""

    @functools.wraps(check)
    def wrapper(self: Any, exc: BaseException) -> bool:
        transient = check(self, exc)
        frame = _frame.get()
        if transient and frame is not None and frame.kind == "lm" and not any(e is exc for e in frame.transient):
            frame.transient.append(exc)
        return transient

    return wrapper


# ---- module spans -------------------------------------------------------------------------
def _module_span(tracer: Any, call: Callable[..., Any], module: Any, args: tuple, kwargs: dict) -> Any:
    parent = _frame.get()
    signature = getattr(module, "signature", None)
    predictor = signature is not None and hasattr(module, "demos")
    kind = "predictor" if predictor else ("module" if parent is not None else "program")
    cls = type(module).__name__
    name = f"predict {getattr(signature, 'name', cls)}" if predictor else f"{kind} {cls}"
    attrs: dict[str, Any] = {"lmdsl.kind": kind, "lmdsl.module": cls}
    if predictor:
        attrs["lmdsl.signature"] = str(getattr(signature, "name", ""))
        attrs["lmdsl.demos"] = len(getattr(module, "demos", ()) or ())
    content = state.record_content()
    secrets: list[str] = []
    if content:  # the LM's key may be echoed in inputs and outputs
        secrets = secrets_of(getattr(module, "lm", None))
        attrs["lmdsl.inputs"] = _json({**{f"arg{i}": a for i, a in enumerate(args)}, **kwargs}, secrets)
    frame = _Frame(kind)
    with tracer.start_as_current_span(name, attributes=attrs, record_exception=False,
                                      set_status_on_exception=False) as span:
        token = _frame.set(frame)
        try:
            result = call(module, *args, **kwargs)
        except Exception as exc:
            record_error(span, exc, secrets or secrets_of(getattr(module, "lm", None)))
            raise
        except BaseException as exc:  # a backtrack signal or Ctrl-C: not an error of this call
            span.set_attribute("lmdsl.interrupted", type(exc).__name__)
            raise
        finally:
            _frame.reset(token)
            span.set_attribute("lmdsl.lm_calls", frame.lm_calls)
            if predictor:
                span.set_attribute("lmdsl.reasks", max(0, frame.lm_calls - 1))
            if parent is not None:
                parent.lm_calls += frame.lm_calls
        if content:
            to_dict = getattr(result, "to_dict", None)
            span.set_attribute("lmdsl.outputs", _json(to_dict() if callable(to_dict) else result, secrets))
        return result


# ---- LM spans ---------------------------------------------------------------------------------
class _LMSpan:
    """The span of one LM call; ``done(completion)`` records what came back."""

    def __init__(self, tracer: Any, lm: LM, messages: Any, args: tuple, kwargs: dict):
        self.tracer, self.lm, self.messages = tracer, lm, messages
        # _through_cache(messages, params, ...) passes params; acall(messages, **overrides) keywords
        self.params: dict[str, Any] = args[0] if args and isinstance(args[0], dict) else kwargs
        self.parent = _frame.get()
        self.frame = _Frame("lm")

    def __enter__(self) -> _LMSpan:
        model = str(getattr(self.lm, "model", ""))
        attempt = 1
        if self.parent is not None:
            self.parent.lm_calls += 1
            attempt = self.parent.lm_calls if self.parent.kind == "predictor" else 1
        attrs: dict[str, Any] = {
            "lmdsl.kind": "lm",
            "gen_ai.operation.name": "score" if "score_replies" in self.params else "chat",
            "gen_ai.system": model.partition("/")[0],
            "gen_ai.request.model": model,
            "lmdsl.constraint": _constraint(self.lm, self.params),
            "lmdsl.attempt": attempt,
            "lmdsl.reask": attempt > 1,
        }
        for key in ("temperature", "max_tokens", "n", "top_p", "seed"):
            value = self.params.get(key, getattr(self.lm, "kwargs", {}).get(key))
            if isinstance(value, int | float) and not isinstance(value, bool):
                attrs[f"gen_ai.request.{key}"] = value
        self._cm = self.tracer.start_as_current_span(f"lm {model}", attributes=attrs, record_exception=False,
                                                     set_status_on_exception=False)
        self.span = self._cm.__enter__()
        self._token = _frame.set(self.frame)
        return self

    def done(self, completion: Any) -> Any:
        span = self.span
        usage = getattr(completion, "usage", None) or {}
        span.set_attribute("gen_ai.usage.input_tokens", int(usage.get("prompt_tokens", 0) or 0))
        span.set_attribute("gen_ai.usage.output_tokens", int(usage.get("completion_tokens", 0) or 0))
        span.set_attribute("lmdsl.cache_hit", bool(getattr(completion, "cached", False)))
        reasons = [str(r) for r in getattr(completion, "finish_reasons", None) or [] if r]
        if reasons:
            span.set_attribute("gen_ai.response.finish_reasons", reasons)
        cost = getattr(completion, "cost", None)
        if cost is not None:
            span.set_attribute("lmdsl.cost", float(cost))
        if state.record_content():
            secrets = secrets_of(self.lm)
            span.set_attribute("gen_ai.prompt", _json(self.messages, secrets))
            span.set_attribute("gen_ai.completion", _json(getattr(completion, "texts", []), secrets))
        return completion

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        _frame.reset(self._token)
        num_retries = getattr(self.lm, "num_retries", None)
        seen = len(self.frame.transient)  # the last one is not retried when the retries ran out
        retries = seen if num_retries is None else min(seen, int(num_retries))
        self.span.set_attribute("lmdsl.retries", retries)
        if isinstance(exc, Exception):
            record_error(self.span, exc, secrets_of(self.lm))
        self._cm.__exit__(None, None, None)


def _constraint(lm: LM, params: dict[str, Any]) -> str:
    """How the reply is constrained: the mode this request was made with (``_constrain``), else the
    LM's resolved or configured mode, else what the request carries (a GBNF grammar, a JSON
    schema) or 'none'. Never calls the LM's resolver, which may probe a server."""
    for mode in (params.get("_constrain"), getattr(lm, "_mode", None), getattr(lm, "constrain", None)):
        if isinstance(mode, str) and mode and mode != "auto":
            return mode
    if params.get("grammar"):
        return "grammar"
    if params.get("response_format"):
        return "json_schema"
    return "none"


# ---- helpers ----------------------------------------------------------------------------------
def record_error(span: Any, exc: BaseException, secrets: list[str]) -> None:
    from opentelemetry.trace import Status, StatusCode

    message = scrub(f"{exc}", secrets)[:2000]
    span.set_attribute("error.type", type(exc).__name__)
    span.add_event("exception", {"exception.type": type(exc).__name__, "exception.message": message})
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))


def _json(value: Any, secrets: list[str]) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return scrub(text, secrets)[:CONTENT_LIMIT]
