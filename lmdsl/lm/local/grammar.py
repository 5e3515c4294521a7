"""GBNF grammars for llama.cpp: validated once (a bad grammar would crash the sampler), kept in
a small LRU, and built from OpenAI ``response_format`` JSON schemas."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from lmdsl.errors import LMError
from lmdsl.lm.local.runtime import _capture_llama_errors, _import_llama_cpp

_GRAMMAR_CACHE_SIZE = 64

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
    if kind == "json_object" and isinstance(response_format.get("schema"), Mapping):
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        return json_schema_to_gbnf(json.dumps(response_format["schema"]))
    if kind == "json_object":
        from llama_cpp.llama_grammar import JSON_GBNF

        return JSON_GBNF
    return None
