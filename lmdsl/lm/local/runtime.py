"""The llama.cpp runtime: one ``llama_cpp.Llama`` per model file per process, its settings,
its chat template, and a quiet logger."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmdsl.console import status
from lmdsl.errors import ConfigError, LocalModelNotInstalled, ModelFileError
from lmdsl.lm.local.files import INSTALL_HINT, resolve_model_path

DEFAULT_N_CTX = 2048
N_CTX_ENV = "LMDSL_LOCAL_N_CTX"
THREADS_ENV = "LMDSL_LOCAL_THREADS"
VERBOSE_ENV = "LMDSL_LOCAL_VERBOSE"
# ggml_log_level in the llama.cpp that llama-cpp-python 0.3.x bundles
# (llama_cpp._logger still maps the older enum, and so prints INFO/WARN lines).
_GGML_LOG_ERROR = 4
_GGML_LOG_CONT = 5


@dataclass(eq=False)
class _LoadedModel:
    """A llama.cpp instance with what every call needs, and the lock that serialises calls."""

    path: Path
    llama: Any
    formatter: Any
    n_ctx: int
    lock: threading.Lock = field(default_factory=threading.Lock)


_models: dict[Path, _LoadedModel] = {}
_models_lock = threading.Lock()


def load_model(model_name: str) -> _LoadedModel:
    """The process-wide instance for ``model_name``, loading it on first use.

    Loading happens under a global lock so that two threads asking for the same model at
    once load it once (a load takes about 0.2 s for SmolLM2; holding the lock is cheap).
    """
    path = resolve_model_path(model_name).resolve()
    with _models_lock:
        model = _models.get(path)
        if model is None:
            if not _models:
                atexit.register(_close_all)
            model = _models[path] = _load(path)
        return model


def _close_all() -> None:
    """Free the models while the interpreter is still whole.

    Left to garbage collection at shutdown, ``Llama.__del__`` runs after llama_cpp's module
    globals are gone and prints a TypeError traceback. A model still generating in some
    daemon thread is left alone: freeing it under that thread would crash.
    """
    with _models_lock:
        models = list(_models.values())
        _models.clear()
    for model in models:
        if model.lock.acquire(timeout=1.0):
            try:
                model.llama.close()
            finally:
                model.lock.release()


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise LocalModelNotInstalled(f"local models need llama-cpp-python: {INSTALL_HINT}") from exc
    _install_quiet_logger(llama_cpp)
    return llama_cpp


def _n_ctx() -> int:
    raw = os.environ.get(N_CTX_ENV, "").strip()
    if not raw:
        return DEFAULT_N_CTX
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 16:
        raise ConfigError(f"{N_CTX_ENV} must be an integer >= 16 (a context size in tokens), got {raw!r}")
    return value


def _n_threads() -> int:
    """One thread, unless ``LMDSL_LOCAL_THREADS`` says otherwise.

    llama.cpp's worker threads spin while waiting for each other: measured side by side on
    a 2-core machine, 30 six-demo TREC calls took 7-15 s with 1 thread and 552 s with 2
    while one other process was busy. A 135M model is fast enough on one core, so one
    thread is the default that cannot collapse; set more on a dedicated machine.
    """
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(f"{THREADS_ENV} must be a positive integer (llama.cpp threads), got {raw!r}")
        return int(raw)
    return 1


def _load(path: Path) -> _LoadedModel:
    llama_cpp = _import_llama_cpp()
    n_ctx = _n_ctx()
    threads = _n_threads()
    failure: str | None = None
    with _capture_llama_errors() as errors, _ignore_llama_del_errors():
        try:
            llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            failure = str(exc)
    if failure is not None:
        reason = "; ".join(line.strip() for line in errors[:2]) or failure
        raise ModelFileError(f"cannot load local model {path}: {reason}")
    return _LoadedModel(path=path, llama=llama, formatter=_chat_formatter(llama_cpp, llama), n_ctx=n_ctx)


_CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _chat_formatter(llama_cpp: Any, llama: Any) -> Any:
    """A renderer for the GGUF's own chat template.

    lmdsl renders the prompt itself (rather than calling ``create_chat_completion``) so that
    it can count the prompt's tokens before generating and report an overflow precisely.
    A GGUF without a template gets ChatML, the most common instruct format.
    """
    from llama_cpp import llama_chat_format

    eos_id = llama.token_eos()
    bos_id = llama.token_bos()
    return llama_chat_format.Jinja2ChatFormatter(
        template=llama.metadata.get("tokenizer.chat_template") or _CHATML_TEMPLATE,
        eos_token=llama._model.token_get_text(eos_id) if eos_id != -1 else "",
        bos_token=llama._model.token_get_text(bos_id) if bos_id != -1 else "",
        stop_token_ids=[eos_id],
    )


# llama.cpp logs through one process-wide callback. llama-cpp-python's maps an outdated
# level enum and prints INFO/WARN lines even with verbose=False; ours stays silent and lets
# a failing load collect llama.cpp's error lines to explain itself.
_log_state: dict[str, Any] = {"callback": None, "sink": None}
_log_lock = threading.Lock()


def _install_quiet_logger(llama_cpp: Any) -> None:
    with _log_lock:
        if _log_state["callback"] is not None:
            return
        verbose = bool(os.environ.get(VERBOSE_ENV))
        last_level = [0]
        partial = [""]  # llama.cpp sends pieces of lines; the status log takes whole ones

        @llama_cpp.llama_log_callback
        def _log(level: int, text: bytes, _user_data: Any) -> None:
            if level != _GGML_LOG_CONT:
                last_level[0] = level
            message = text.decode("utf-8", errors="replace")
            sink = _log_state["sink"]
            if sink is not None and last_level[0] >= _GGML_LOG_ERROR:
                sink.append(message)
            if verbose:
                *lines, partial[0] = (partial[0] + message).split("\n")
                for line in lines:
                    status(line)

        _log_state["callback"] = _log  # keep a reference: ctypes callbacks must outlive their use
        llama_cpp.llama_log_set(_log, ctypes.c_void_p(0))


@contextlib.contextmanager
def _capture_llama_errors() -> Iterator[list[str]]:
    lines: list[str] = []
    _log_state["sink"] = lines
    try:
        yield lines
    finally:
        _log_state["sink"] = None


@contextlib.contextmanager
def _ignore_llama_del_errors() -> Iterator[None]:
    """Swallow llama-cpp-python's ``AttributeError`` from ``__del__`` of a half-built model.

    After a failed load, 0.3.x prints "Exception ignored in LlamaModel.__del__" to stderr;
    the real error is reported by us, so that noise only confuses.
    """
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        owner = getattr(unraisable.object, "__qualname__", "")
        if isinstance(unraisable.exc_value, AttributeError) and owner.endswith("__del__"):
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
