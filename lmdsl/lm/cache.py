"""lmdsl's own LM cache: an in-memory LRU in front of a disk store.

Keys are sha256 of (model, messages, params) with secrets and endpoints removed, so no
key is ever written down and moving a key does not invalidate the cache. Values are JSON
text: an entry stored any other way (diskcache's pickle mode, which would run code when
read) is refused unread. What is read is checked against the shape of a completion record;
a damaged entry is dropped and recomputed, never served or a crash. Every way the disk
cache stops working (directory not openable, writes failing, damaged entries) is said once
on the ``lmdsl.cache`` logger, since a silent memory-only cache quietly breaks resuming.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from lmdsl.utils.paths import cache_root

SECRET_PARAMS = frozenset(
    {
        "api_key", "api_base", "base_url", "api_version", "organization", "headers", "extra_headers",
        "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "vertex_credentials",
        "azure_ad_token", "client", "timeout", "num_retries",
    }
)


cache_dir = cache_root  # the name callers and plugins know


def request_key(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    clean = {k: v for k, v in params.items() if k not in SECRET_PARAMS and v is not None}
    blob = json.dumps({"model": model, "messages": messages, "params": clean}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


_log = logging.getLogger(__name__)


class _UnsafeEntry(Exception):
    """A disk entry that is not JSON text (reading it would unpickle it)."""


def _json_only_disk() -> type:
    """diskcache's Disk, minus reading pickles: ``pickle.load`` of a planted entry runs code."""
    import diskcache
    from diskcache.core import MODE_PICKLE

    class JSONOnlyDisk(diskcache.Disk):
        def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
            if mode == MODE_PICKLE:
                raise _UnsafeEntry("a pickled entry")
            return super().fetch(mode, filename, value, read)

    return JSONOnlyDisk


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def valid_record(value: Any) -> bool:
    """Whether ``value`` has the shape LM stores: outputs (texts), usage, finish reasons, scores, label reads."""
    if not isinstance(value, dict):
        return False
    outputs = value.get("outputs")
    if not isinstance(outputs, list) or not all(isinstance(t, str) for t in outputs):
        return False
    usage = value.get("usage", {})
    if not isinstance(usage, dict) or not all(isinstance(k, str) and _number(v) for k, v in usage.items()):
        return False
    reasons = value.get("finish_reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        return False
    scores = value.get("scores")
    if scores is not None and not (isinstance(scores, list) and all(_number(x) for x in scores)):
        return False
    reads = value.get("label_reads")
    return reads is None or (isinstance(reads, list) and all(r is None or isinstance(r, str) for r in reads))


class Cache:
    """Thread-safe two-level cache of JSON-able dicts."""

    def __init__(self, directory: Path | None, memory_size: int = 10_000):
        self.directory = directory
        self.memory_size = memory_size
        self._memory: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._disk: Any = None
        self._disk_failed = False
        self._warned: set[str] = set()

    def _warn_once(self, kind: str, message: str, *args: Any) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            _log.warning(message, *args)

    def _store(self) -> Any:
        if self._disk is None and self.directory is not None and not self._disk_failed:
            with self._lock:  # one disk handle even when the first calls come from several threads
                if self._disk is None and not self._disk_failed:
                    try:
                        import diskcache

                        self._disk = diskcache.Cache(str(self.directory), size_limit=2**32,
                                                     disk=_json_only_disk())
                    except Exception as exc:
                        # An unusable cache directory degrades to memory only rather than failing calls.
                        self._disk_failed = True
                        self._warn_once("open", "LM cache: cannot open %s (%s: %s); results stay in memory "
                                        "only, so an interrupted run will not resume from it",
                                        self.directory, type(exc).__name__, exc)
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
        except _UnsafeEntry:
            self._damaged(key, "not JSON (a pickled value, not read)")
            return None
        except Exception as exc:
            self._warn_once("read", "LM cache: cannot read %s (%s: %s); recomputing",
                            self.directory, type(exc).__name__, exc)
            return None
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except (ValueError, TypeError):
            self._damaged(key, "not JSON text")
            return None
        if not valid_record(value):
            self._damaged(key, "not a completion record")
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
                self._warn_once("write", "LM cache: cannot write to %s (%s: %s); results stay in memory only",
                                self.directory, type(exc).__name__, exc)

    def _remember(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._memory[key] = value
            self._memory.move_to_end(key)
            while len(self._memory) > self.memory_size:
                self._memory.popitem(last=False)

    def _damaged(self, key: str, why: str) -> None:
        self._warn_once("damaged", "LM cache: dropped a damaged entry in %s (%s); it is recomputed "
                        "(further damaged entries are dropped without a message)", self.directory, why)
        self._drop(key)

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


def set_shared_cache(cache: Cache) -> None:
    """Make ``cache`` what :func:`shared_cache` returns in this process for the current cache directory
    (a Ray replica answers from the driver's cache this way, through a relay)."""
    with _caches_lock:
        _caches[str(cache_dir() / "lm")] = cache
