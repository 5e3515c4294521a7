"""Ask an OpenAI-compatible server what it is, once per endpoint per process.

``GET {api_base}/models`` names the server in ``owned_by`` (``llamacpp`` for llama.cpp's
``llama-server``, ``vllm``, ``library`` for Ollama, ``organization_owner`` for LM Studio);
llama-cpp-python's ``llama_cpp.server`` says ``me`` and titles its OpenAPI page
"llama.cpp Python API". A probe that cannot connect is not remembered (the server may be
starting); one that connects but learns nothing is.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

PROBE_TIMEOUT = 3.0

# What a server is -> the constraint mode it takes.
MODE_FOR_SERVER = {
    "llama.cpp": "gbnf",
    "vllm": "vllm",
    "ollama": "json_schema",
    "lmstudio": "json_schema",
    "openai": "json_schema",
}

_known: dict[str, str | None] = {}
_lock = threading.Lock()


def server_kind(api_base: str, api_key: str | None = None) -> str | None:
    """``llama.cpp``, ``vllm``, ``ollama``, ``lmstudio``, ``openai`` or None (unknown / unreachable)."""
    base = api_base.rstrip("/")
    with _lock:
        if base in _known:
            return _known[base]
    try:
        kind = _identify(base, api_key)
    except OSError:
        return None  # not remembered: unreachable now says nothing about later
    with _lock:
        _known[base] = kind
    return kind


def reached(api_base: str) -> bool:
    """Whether a probe of ``api_base`` got an answer (of any kind)."""
    with _lock:
        return api_base.rstrip("/") in _known


def forget() -> None:
    with _lock:
        _known.clear()


def _get_json(url: str, api_key: str | None) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as response:
            return json.loads(response.read().decode("utf-8", errors="replace"))
    except urllib.error.HTTPError:
        return None
    except ValueError:
        return None


def _identify(base: str, api_key: str | None) -> str | None:
    listing = _get_json(f"{base}/models", api_key)
    owners = set()
    if isinstance(listing, dict):
        for item in listing.get("data") or []:
            if isinstance(item, dict):
                owners.add(str(item.get("owned_by", "")).lower())
    if "llamacpp" in owners:
        return "llama.cpp"
    if "vllm" in owners:
        return "vllm"
    if "library" in owners or "ollama" in owners:
        return "ollama"
    if "organization_owner" in owners:
        return "lmstudio"
    if owners & {"openai", "system", "openai-internal"}:
        return "openai"
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    page = _get_json(f"{root}/openapi.json", api_key)
    title = str(((page or {}).get("info") or {}).get("title", "")) if isinstance(page, dict) else ""
    if "llama.cpp" in title or "llama-cpp" in title.lower():
        return "llama.cpp"
    return None
