"""Constrained decoding: which mode an LM uses, and what each mode puts in the request.

An adapter describes valid replies as a :class:`Constraint` (a GBNF grammar, a JSON schema, or
a closed list of whole replies); the LM turns it into the fields its provider understands.
The modes (``LM(..., constrain=...)``):

============  ===========================================================================
``gbnf``      the grammar: ``grammar=`` in-process (``local/``), ``extra_body.grammar`` for
              llama.cpp's servers (``llama-server``, ``llama_cpp.server``)
``json_schema``  ``response_format={"type": "json_schema", ...}`` (OpenAI, Azure, Gemini,
              Mistral, vLLM, llama.cpp, Ollama's /v1, LM Studio); replies are JSON
``vllm``      vLLM's ``structured_outputs`` (``choice`` / ``json`` / ``grammar``)
``ollama``    Ollama's native ``format`` (a JSON schema)
``none``      nothing: the reply is read leniently and re-asked when unreadable
``auto``      chosen per provider (see ``LM.constraint_mode``)
============  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lmdsl.adapters.constraint import Constraint
from lmdsl.errors import ConfigError

MODES = ("auto", "gbnf", "json_schema", "vllm", "ollama", "none")
# A mode a provider rejected (HTTP 400) is replaced by the next one, remembered per LM.
FALLBACK = {"gbnf": "json_schema", "vllm": "json_schema", "ollama": "none", "json_schema": "none", "none": "none"}
# Replies in these modes are JSON objects, so the adapter lays the prompt out as JSON.
JSON_MODES = frozenset({"json_schema", "ollama"})


def check_mode(value: Any) -> str:
    if value not in MODES:
        raise ConfigError(f"constrain must be one of {', '.join(MODES)}; got {value!r}")
    return str(value)


def response_format(constraint: Constraint) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": _schema_name(constraint.name), "schema": dict(constraint.json_schema or {}),
                        "strict": True},
    }


def _schema_name(name: str) -> str:
    # OpenAI: ^[a-zA-Z0-9_-]{1,64}$
    cleaned = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name)[:64]
    return cleaned or "reply"


def wire_params(mode: str, constraint: Constraint | None, *, in_process: bool) -> dict[str, Any]:
    """The request fields that make ``mode`` enforce ``constraint`` ({} when it cannot)."""
    if constraint is None or not constraint or mode == "none":
        return {}
    c = constraint
    if mode == "gbnf":
        if c.grammar:
            return {"grammar": c.grammar} if in_process else {"extra_body": {"grammar": c.grammar}}
        if c.json_schema:  # both llama.cpp servers take this shape and turn the schema into a grammar
            return {"response_format": {"type": "json_object", "schema": dict(c.json_schema)}}
        return {}
    if mode == "json_schema":
        return {"response_format": response_format(c)} if c.json_schema else {}
    if mode == "vllm":
        if c.choices:
            spec: dict[str, Any] = {"choice": list(c.choices)}
        elif c.json_schema:
            spec = {"json": dict(c.json_schema)}
        elif c.grammar:
            spec = {"grammar": c.grammar}
        else:
            return {}
        return {"extra_body": {"structured_outputs": spec}}
    if mode == "ollama":
        return {"format": dict(c.json_schema)} if c.json_schema else {}
    return {}


def forcing(mode: str, reply: str, *, in_process: bool) -> dict[str, Any]:
    """Fields that make the model write exactly ``reply`` (to read its log-probabilities)."""
    import json

    if mode == "gbnf":
        return wire_params(mode, Constraint(grammar=f"root ::= {json.dumps(reply)}"), in_process=in_process)
    if mode == "vllm":
        return wire_params(mode, Constraint(choices=(reply,)), in_process=in_process)
    return {}


def merge_params(params: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with ``extra`` added; ``extra_body`` dicts are merged, not replaced."""
    merged = dict(params)
    for key, value in extra.items():
        if key == "extra_body" and isinstance(merged.get("extra_body"), Mapping):
            merged["extra_body"] = {**merged["extra_body"], **value}
        else:
            merged[key] = value
    return merged
