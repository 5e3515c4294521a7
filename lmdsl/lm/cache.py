"""lmdsl's own LM cache: an in-memory LRU in front of a disk store.

Keys are sha256 of (model, messages, params) with secrets and endpoints removed, so no
key is ever written down and moving a key does not invalidate the cache. Values are JSON
text (never pickle). A corrupt entry is dropped and recomputed, never a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

SECRET_PARAMS = frozenset(
    {
        "api_key", "api_base", "base_url", "api_version", "organization", "headers", "extra_headers",
        "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "vertex_credentials",
        "azure_ad_token", "client", "timeout", "num_retries",
    }
)


def cache_dir() -> Path:
    root = os.environ.get("LMDSL_CACHE_DIR")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lmdsl"


def request_key(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    clean = {k: v for k, v in params.items() if k not in SECRET_PARAMS and v is not None}
    blob = json.dumps({"model": model, "messages": messages, "params": clean}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class Cache:
    """Thread-safe two-level cache of JSON-able dicts."""

    def __init__(self, directory: Path | None, memory_size: int = 10_000):
        self.directory = directory
        self.memory_size = memory_size
        self._memory: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._disk: Any = None
        self._disk_failed = False
        self._warned = False

    def _store(self) -> Any:
        if self._disk is None and self.directory is not None and not self._disk_failed:
            with self._lock:  # one disk handle even when the first calls come from several threads
                if self._disk is None and not self._disk_failed:
                    try:
                        import diskcache

                        self._disk = diskcache.Cache(str(self.directory), size_limit=2**32)
                    except Exception:
                        # An unusable cache directory degrades to memory only rather than failing calls.
                        self._disk_failed = True
        return self._disk

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            hit = self._memory.get(key)
            if hit is not None:
                self._memory.move_to_end(key)
                return hit
        disk = self._store()
        if disk is None:
            return None
        try:
            raw = disk.get(key)
        except Exception:
            return None
        if raw is None:
            return None
        try:
            value = json.loads(raw)
            if not isinstance(value, dict) or "outputs" not in value:
                raise ValueError("bad entry")
        except (ValueError, TypeError):
            self._drop(key)
            return None
        self._remember(key, value)
        return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._remember(key, value)
        disk = self._store()
        if disk is not None:
            try:
                disk.set(key, json.dumps(value))
            except Exception as exc:
                # A failed write costs a repeated call later, never this one; say so once.
                if not self._warned:
                    self._warned = True
                    logging.getLogger("lmdsl.cache").warning(
                        "LM cache: cannot write to %s (%s: %s); results stay in memory only",
                        self.directory, type(exc).__name__, exc,
                    )

    def _remember(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._memory[key] = value
            self._memory.move_to_end(key)
            while len(self._memory) > self.memory_size:
                self._memory.popitem(last=False)

    def _drop(self, key: str) -> None:
        with contextlib.suppress(Exception):
            self._disk.delete(key)

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()


_caches: dict[str, Cache] = {}
_caches_lock = threading.Lock()


def shared_cache() -> Cache:
    """One cache per cache directory per process (tests move it with LMDSL_CACHE_DIR)."""
    directory = cache_dir() / "lm"
    with _caches_lock:
        cache = _caches.get(str(directory))
        if cache is None:
            cache = _caches[str(directory)] = Cache(directory)
        return cache
