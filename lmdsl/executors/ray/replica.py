"""The two Ray actors: a replica that runs examples, and the relay that keeps the driver's LM cache.

A :class:`Replica` is one long-lived process: it builds each program version once, builds
each LM once (an embedded model is loaded once per replica, at its first call) and runs many
examples. Its LM cache is the :class:`CacheRelay`, an actor on the driver's node that reads
and writes the driver's disk cache with ``Cache.get``/``Cache.put``: a completion made on any
node is stored there as soon as it is made (a re-run after Ctrl-C or a crash repeats no
finished call), and a replica on another machine finds the answers the driver already has.
"""

from __future__ import annotations

import contextvars
import os
import threading
from pathlib import Path
from typing import Any

from lmdsl import settings
from lmdsl.errors import NotFoundError
from lmdsl.executors.base import Job, run_example
from lmdsl.executors.ray.payload import Built, Payload, rebuild
from lmdsl.lm.cache import Cache, set_shared_cache
from lmdsl.primitives import Example


class CacheRelay:
    """Runs next to the driver and reads and writes the driver's cache directory for every replica."""

    def __init__(self, directory: str | None):
        self.cache = Cache(Path(directory) if directory else None)
        self.directory = directory

    def use(self, directory: str | None) -> None:
        """Follow the driver's cache directory (``LMDSL_CACHE_DIR`` may change between runs)."""
        if directory != self.directory:
            self.cache, self.directory = Cache(Path(directory) if directory else None), directory

    def get(self, key: str) -> dict[str, Any] | None:
        return self.cache.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.cache.put(key, value)


class RelayCache(Cache):
    """A replica's LM cache: the driver's, through the relay (no copy kept here, so a replica never
    answers from a cache the driver has moved away from)."""

    def __init__(self, relay: Any):
        super().__init__(None)
        self.relay = relay

    def get(self, key: str) -> dict[str, Any] | None:
        import ray

        return ray.get(self.relay.get.remote(key))

    def put(self, key: str, value: dict[str, Any]) -> None:
        import ray

        ray.get(self.relay.put.remote(key, value))  # stored before the call returns, so never lost


def install_relay_cache(relay: Any) -> None:
    """Make the relay this process's shared LM cache (replica processes run nothing else)."""
    set_shared_cache(RelayCache(relay))


class Replica:
    def __init__(self, relay: Any | None):
        if relay is not None:
            install_relay_cache(relay)
        self.built: dict[str, Built] = {}
        self.lms: dict[str, Any] = {}
        self.lock = threading.Lock()  # threaded replicas (max_concurrency > 1) build each program once
        import ray

        self.node = ray.get_runtime_context().get_node_id()

    def where(self) -> tuple[str, int]:
        return self.node, os.getpid()

    def load(self, payload: Payload) -> str:
        with self.lock:
            if payload.digest not in self.built:
                self.built[payload.digest] = rebuild(payload, self.lms)
        return payload.digest

    def run(self, digest: str, index: int, example: Example, job: Job) -> dict[str, Any]:
        built = self.built.get(digest)
        if built is None:
            raise NotFoundError(f"program {digest} is not loaded on this replica")
        return contextvars.copy_context().run(self._run, built, index, example, job)

    def _run(self, built: Built, index: int, example: Example, job: Job) -> dict[str, Any]:
        with settings.context(**built.context):
            outcome = run_example(built.program, example, job)
        trace = None
        if outcome.trace is not None:  # predictors are named by path: the driver maps them to its own
            trace = [(built.paths[id(e.predictor)], e.inputs, e.outputs) for e in outcome.trace
                     if id(e.predictor) in built.paths]
        return {"index": index, "prediction": outcome.prediction, "error": outcome.error,
                "assertion_failed": outcome.assertion_failed, "trace": trace, "usage": outcome.usage,
                "latency": outcome.latency, "node": self.node, "pid": os.getpid()}
