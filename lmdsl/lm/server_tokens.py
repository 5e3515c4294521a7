"""The token ids a server's own tokenizer gives a text, for scoring forced replies exactly.

A grammar forces the *text* of a reply but lets the server pick any tokenization of it, and
greedily it often picks odd ones ("L" "ab" "el"), whose summed log-probability is far below
that of the canonical tokens the in-process scorer reads (TREC train rows: 9 of 20 label
rankings agreed with in-process). Biasing the reply's own token ids while forcing it makes the
server write the canonical tokens; the log-probabilities it reports are taken before the bias
(llama.cpp), so the sums match in-process scores (11 of 12 rankings, differences < 0.4).

Tokenize endpoints: llama-cpp-python ``POST /extras/tokenize {"input"}``; llama.cpp's
``llama-server`` ``POST /tokenize {"content"}``; vLLM ``POST /tokenize {"prompt"}``. Which one an
endpoint answers is remembered per process; an endpoint with none is remembered as such.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

TIMEOUT = 10.0
_ROUTES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("extras", "/extras/tokenize", {}),
    ("llama.cpp", "/tokenize", {"add_special": False}),
    ("vllm", "/tokenize", {"add_special_tokens": False}),
)
_FIELD = {"extras": "input", "llama.cpp": "content", "vllm": "prompt"}
_route_of: dict[str, str | None] = {}
_lock = threading.Lock()


def reply_tokens(api_base: str, text: str, api_key: str | None = None) -> list[int] | None:
    """The ids of ``text`` (no BOS), or None when the server has no tokenize endpoint lmdsl knows."""
    root = _root(api_base)
    with _lock:
        known = _route_of.get(root, "?")
    routes = _ROUTES if known == "?" else tuple(r for r in _ROUTES if r[0] == known)
    for name, path, extra in routes:
        tokens = _tokenize(root, name, path, extra, text, api_key)
        if tokens is not None:
            if name == "extras":  # llama-cpp-python adds the model's BOS, if it has one
                bos = _tokenize(root, name, path, extra, "", api_key) or []
                tokens = tokens[len(bos):] if tokens[: len(bos)] == bos else tokens
            with _lock:
                _route_of[root] = name
            return tokens
    with _lock:
        _route_of[root] = None
    return None


def forget() -> None:
    with _lock:
        _route_of.clear()


def _root(api_base: str) -> str:
    base = api_base.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def _tokenize(root: str, name: str, path: str, extra: dict[str, Any], text: str,
              api_key: str | None) -> list[int] | None:
    body = json.dumps({_FIELD[name]: text, **extra}).encode()
    request = urllib.request.Request(f"{root}{path}", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            payload = json.loads(response.read().decode("utf-8", errors="replace"))
    except (OSError, ValueError):  # urllib.error.HTTPError is an OSError
        return None
    tokens = payload.get("tokens") if isinstance(payload, dict) else None
    if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
        return None
    return tokens
