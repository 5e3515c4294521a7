"""The litellm side: ``local/<model>`` as a litellm custom provider running llama.cpp in-process."""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from lmdsl.errors import ContextWindowExceeded, LmdslError, LMError, LocalModelNotInstalled, ModelFileError
from lmdsl.lm._litellm import litellm as litellm_module
from lmdsl.lm.local.engine import LocalCompletion, generate
from lmdsl.lm.local.files import PROVIDER
from lmdsl.lm.local.grammar import grammar_from_response_format


@functools.cache
def local_llm_class() -> type:
    """The ``litellm.CustomLLM`` subclass, built on first use so that litellm loads lazily."""
    litellm = litellm_module()
    from litellm.llms.custom_llm import CustomLLM

    class LocalLLM(CustomLLM):
        """litellm handler for ``local/<model>``: runs llama.cpp in this process."""

        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            result = _run(litellm, model, messages, kwargs.get("optional_params"))
            return _model_response(litellm, kwargs.get("model_response"), model, result)

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            import asyncio

            return await asyncio.to_thread(self.completion, model, messages, *args, **kwargs)

        def streaming(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Iterator[Any]:
            """``stream=True``: the first choice's text as llama.cpp generates it, then a last chunk
            with the finish reason and usage. Generation runs in a worker thread feeding a queue."""
            pieces: queue.Queue[Any] = queue.Queue()
            optional = kwargs.get("optional_params")
            threading.Thread(target=_feed, args=(litellm, model, messages, optional, pieces.put),
                             name="lmdsl-local-stream", daemon=True).start()
            while True:
                item = pieces.get()
                if isinstance(item, BaseException):
                    raise item
                yield _stream_chunk(item) if isinstance(item, LocalCompletion) else _text_chunk(item)
                if isinstance(item, LocalCompletion):
                    return

        async def astreaming(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            import asyncio

            loop = asyncio.get_running_loop()
            pieces: asyncio.Queue[Any] = asyncio.Queue()
            optional = kwargs.get("optional_params")
            worker = asyncio.ensure_future(asyncio.to_thread(
                _feed, litellm, model, messages, optional,
                lambda item: loop.call_soon_threadsafe(pieces.put_nowait, item)))
            try:
                while True:
                    item = await pieces.get()
                    if isinstance(item, BaseException):
                        raise item
                    yield _stream_chunk(item) if isinstance(item, LocalCompletion) else _text_chunk(item)
                    if isinstance(item, LocalCompletion):
                        return
            finally:
                await worker

    LocalLLM.__module__ = __name__
    return LocalLLM


def _run(litellm: Any, model: str, messages: list, optional_params: Mapping[str, Any] | None,
         on_text: Callable[[str], object] | None = None) -> LocalCompletion:
    """:func:`generate` with every failure turned into an error litellm passes through as is."""
    try:
        return generate(model, messages, on_text=on_text, **_generation_params(optional_params or {}))
    except LmdslError as exc:
        raise _litellm_compatible(litellm, exc, model) from exc
    except Exception as exc:  # a llama.cpp failure we did not foresee: not retryable
        error = LMError(f"local/{model} failed: {type(exc).__name__}: {exc}")
        raise _litellm_compatible(litellm, error, model) from exc


def _feed(litellm: Any, model: str, messages: list, optional: Mapping[str, Any] | None,
          put: Callable[[Any], object]) -> None:
    """Generate, passing each text piece, then the LocalCompletion (or the error) to ``put``."""
    try:
        put(_run(litellm, model, messages, optional, on_text=put))
    except BaseException as exc:  # handed to the consumer, which raises it
        put(exc)


def _text_chunk(text: str) -> dict[str, Any]:
    return {"text": text, "is_finished": False, "finish_reason": "", "index": 0, "tool_use": None, "usage": None}


def _stream_chunk(result: LocalCompletion) -> dict[str, Any]:
    """The last chunk of a stream: its text was sent piece by piece already."""
    choice = result.choices[0]
    return {
        "text": "",
        "is_finished": True,
        "finish_reason": choice.finish_reason,
        "index": 0,
        "tool_use": None,
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.total_tokens,
        },
    }


_PASSED_THROUGH = ("temperature", "top_p", "max_tokens", "stop", "seed", "grammar", "n")


def _generation_params(optional: Mapping[str, Any]) -> dict[str, Any]:
    params = {key: optional[key] for key in _PASSED_THROUGH if optional.get(key) is not None}
    if "max_tokens" not in params and optional.get("max_completion_tokens") is not None:
        params["max_tokens"] = optional["max_completion_tokens"]
    if "grammar" not in params:
        from_format = grammar_from_response_format(optional.get("response_format"))
        if from_format:
            params["grammar"] = from_format
    return params


def _model_response(litellm: Any, response: Any, model: str, result: LocalCompletion) -> Any:
    import time

    from litellm.types.utils import Choices, Message, Usage

    response = response if response is not None else litellm.ModelResponse()
    response.choices = [
        Choices(index=i, finish_reason=c.finish_reason, message=Message(role="assistant", content=c.text))
        for i, c in enumerate(result.choices)
    ]
    response.model = f"{PROVIDER}/{model}"
    response.created = int(time.time())
    response.usage = Usage(
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        total_tokens=result.total_tokens,
    )
    return response


def _litellm_twin_bases(litellm: Any, exc: LmdslError) -> tuple[type, Any]:
    """Keep the exact lmdsl class; pick the litellm class by meaning (none of them retryable)."""
    if isinstance(exc, ContextWindowExceeded):
        return type(exc), litellm.ContextWindowExceededError
    if isinstance(exc, ModelFileError | LocalModelNotInstalled):
        return type(exc), litellm.NotFoundError
    return type(exc), litellm.BadRequestError


@functools.cache
def _twin_class(lmdsl_cls: type, litellm_cls: type) -> type:
    def __str__(self: Any) -> str:
        return self.lmdsl_message

    return type(
        f"Local{lmdsl_cls.__name__}",
        (lmdsl_cls, litellm_cls),
        {"__module__": __name__, "__str__": __str__, "__repr__": __str__,
         "__doc__": f"{lmdsl_cls.__name__} raised through litellm (also a {litellm_cls.__name__})."},
    )


def _litellm_compatible(litellm: Any, exc: LmdslError, model: str) -> Exception:
    """``exc`` as an instance of both its lmdsl class and a litellm exception class.

    litellm passes its own exception types through unchanged; anything else it wraps in
    ``APIConnectionError``, which would hide the lmdsl type and invite pointless retries.
    """
    lmdsl_cls, litellm_cls = _litellm_twin_bases(litellm, exc)
    cls = _twin_class(lmdsl_cls, litellm_cls)
    message = str(exc)
    twin: Any = cls.__new__(cls, message)  # both classes' attributes, on a class made at run time
    litellm_cls.__init__(twin, message=message, model=f"{PROVIDER}/{model}", llm_provider=PROVIDER)
    twin.__dict__.update({k: v for k, v in vars(exc).items() if k not in twin.__dict__})
    twin.lmdsl_message = message
    twin.message = message
    twin.args = (message,)
    return twin


_install_lock = threading.Lock()


def install_local_provider() -> None:
    """Route ``litellm.completion(model="local/...")`` to llama.cpp in this process.

    Idempotent and thread-safe. The map is replaced, not mutated, so a concurrent
    ``litellm.completion`` iterating it never sees a half-updated list; any other handler
    registered as ``local`` is replaced, since litellm would use the first match only.
    """
    litellm = litellm_module()
    handler_cls = local_llm_class()
    with _install_lock:
        current = list(litellm.custom_provider_map)
        if any(item.get("provider") == PROVIDER and isinstance(item.get("custom_handler"), handler_cls)
               for item in current):
            return
        others = [item for item in current if item.get("provider") != PROVIDER]
        litellm.custom_provider_map = [*others, {"provider": PROVIDER, "custom_handler": handler_cls()}]
        from litellm.utils import custom_llm_setup

        custom_llm_setup()  # registers "local" in litellm.provider_list for get_llm_provider
