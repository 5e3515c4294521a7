"""Qdrant clients: embedded local storage shared per directory, a server by URL, or memory.

Local mode locks its directory for one client per process (a second ``QdrantClient(path=)``
on it raises), so retrievers on the same directory share one client, counted, and the last
one to close releases the lock; another process on the same directory gets a clear error.

A retriever that is garbage-collected without ``close()`` releases its share through a
finalizer, which can run inside the garbage collector at any allocation, including one made
while this module holds its lock: so the finalizer only queues the release
(:func:`release_later`), and the next open or close applies it under the lock.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from lmdsl.errors import ConfigError

_lock = threading.Lock()
_local: dict[str, list[Any]] = {}  # resolved path -> [client, users]
_pending: list[str] = []  # releases queued by finalizers (list.append is atomic)


def _qdrant() -> Any:
    try:
        import qdrant_client
    except ImportError:
        raise ConfigError(
            "the qdrant retriever needs qdrant-client: pip install lmdsl-qdrant (or pip install 'qdrant-client>=1.20,<2')"
        ) from None
    return qdrant_client


def open_local(path: Path) -> tuple[Any, str]:
    """A client on local storage at ``path`` (shared within the process) and the key to release it."""
    key = os.path.realpath(path)
    with _lock:
        _drain()
        entry = _local.get(key)
        if entry is None:
            Path(key).mkdir(parents=True, exist_ok=True)
            try:
                # Evaluate and optimizers call retrievers from worker threads; the retriever
                # serialises calls on a local client itself.
                client = _qdrant().QdrantClient(path=key, force_disable_check_same_thread=True)
            except RuntimeError as exc:
                if "already accessed" not in str(exc):
                    raise
                raise ConfigError(
                    f"qdrant storage {key} is in use by another process (local mode allows one process per "
                    "directory): wait for it, pass path= another directory, or run a Qdrant server and pass url="
                ) from None
            entry = _local[key] = [client, 0]
        entry[1] += 1
        return entry[0], key


def release_local(key: str) -> None:
    """Give back one share of the client on ``key``; the last one closes it (unlocking the directory)."""
    with _lock:
        _drain()
        _release(key)


def release_later(key: str) -> None:
    """The finalizer's release: queued, never blocking (see the module docstring)."""
    _pending.append(key)


def _drain() -> None:
    while _pending:
        _release(_pending.pop())


def _release(key: str) -> None:
    entry = _local.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        del _local[key]
        entry[0].close()


@atexit.register
def _close_all() -> None:
    # Left to qdrant-client's __del__, an open local client fails noisily during interpreter
    # shutdown ("sys.meta_path is None"); closing it at exit keeps stderr clean.
    with _lock:
        entries = list(_local.values())
        _local.clear()
    for client, _ in entries:
        with contextlib.suppress(Exception):
            client.close()


def open_memory() -> Any:
    return _qdrant().QdrantClient(location=":memory:")


def open_server(url: str, api_key: str | None, timeout: int | None) -> Any:
    return _qdrant().QdrantClient(url=url, api_key=api_key, timeout=timeout, check_compatibility=False)
