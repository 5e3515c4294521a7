"""The Ray executor: replicas (actors) on a Ray cluster run the examples; the driver scores them.

Examples are handed out a few at a time per replica, so a fast replica takes more; results
come back as they finish and are passed on in input order. A replica that dies (its process
killed, its node lost) has its unfinished examples handed to the others, and a new replica
takes its place; an example is finished once, whatever happens to the process running it.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lmdsl.errors import ConfigError, ExecutorError, LmdslError
from lmdsl.executors.base import Finish, Job, OnResult, Outcome, Runnable
from lmdsl.executors.ray.cluster import connect
from lmdsl.executors.ray.payload import build_payload
from lmdsl.lm.cache import cache_dir
from lmdsl.primitives import Example
from lmdsl.program import Module
from lmdsl.program.trace import TraceEntry
from lmdsl.utils import usage as _usage


@dataclass
class RunStats:
    """What the last run did where: rows per node, replica deaths and the rows they cost."""

    rows_by_node: dict[str, int] = field(default_factory=dict)
    rows_by_pid: dict[int, int] = field(default_factory=dict)
    replicas_lost: int = 0
    rows_retried: int = 0


class RayExecutor:
    """``RayExecutor(address=None, replicas=None, ...)``: run examples on Ray replicas.

    ``address``: ``None`` starts a local Ray instance sized to this machine (or joins the one this
    process already started), ``"auto"`` the cluster ``ray start`` left running here, ``HOST:PORT``
    or ``ray://HOST:PORT`` a given one. ``replicas``: how many actors (default: one per free CPU of
    the cluster, ``num_cpus`` each); each builds its LMs once. ``resources``: custom Ray resources per
    replica (pins replicas to the nodes that offer them). ``concurrency``: examples a replica runs
    at once (1 for an embedded model; more for a served or hosted model). ``runtime_env``: Ray's, to
    ship code or environment variables to the workers. ``max_retries``: how often an example whose
    replica died is tried again before it counts as an error.
    """

    name = "ray"

    def __init__(self, address: str | None = None, replicas: int | None = None, *, num_cpus: float = 1,
                 resources: dict[str, float] | None = None, concurrency: int = 1,
                 runtime_env: dict[str, Any] | None = None, max_retries: int = 2, start_timeout: float = 120.0):
        if replicas is not None and (not isinstance(replicas, int) or replicas < 1):
            raise ConfigError(f"ray executor: replicas must be a positive integer, got {replicas!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError(f"ray executor: concurrency must be a positive integer, got {concurrency!r}")
        self.address = address
        self.replicas = replicas
        self.num_cpus = num_cpus
        self.resources = dict(resources or {})
        self.concurrency = concurrency
        self.runtime_env = runtime_env
        self.max_retries = max_retries
        self.start_timeout = start_timeout
        self.stats = RunStats()
        self._ray: Any = None
        self._actors: list[Any] = []
        self._relay: Any = None
        self._loaded: dict[Any, set[str]] = {}

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, replicas={self.replicas!r})"

    # ---- the pool ---------------------------------------------------------------------------
    def _start(self) -> Any:
        if self._ray is not None and self._ray.is_initialized():
            return self._ray
        ray, _ = connect(self.address, runtime_env=self.runtime_env)
        self._ray = ray
        self._check_resources(ray)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from lmdsl.executors.ray.replica import CacheRelay

        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        relay_cls = ray.remote(num_cpus=0, max_concurrency=16)(CacheRelay)
        self._relay = relay_cls.options(scheduling_strategy=here).remote(str(cache_dir() / "lm"))
        # As many replicas as fit in what is free now (a cluster shared with other jobs keeps theirs).
        count = self.replicas or max(1, replicas_that_fit(_free_per_node(ray), self._needs()))
        self._actors = [self._new_replica() for _ in range(count)]
        try:
            ray.get([a.where.remote() for a in self._actors], timeout=self.start_timeout)
        except ray.exceptions.GetTimeoutError:
            raise ExecutorError(f"ray executor: {count} replica(s) did not start within {self.start_timeout:.0f} s "
                              f"(each needs {_show(self._needs())}; cluster has {_show(ray.cluster_resources())}, "
                              f"free now {_show(ray.available_resources())})") from None
        return ray

    def _needs(self) -> dict[str, float]:
        return {"CPU": self.num_cpus, **self.resources}

    def _check_resources(self, ray: Any) -> None:
        """A replica no node can ever host would wait forever: say so now."""
        needs = self._needs()
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if not any(all(node.get(k, 0) >= v for k, v in needs.items()) for node in nodes):
            offered = "; ".join(_show(node) for node in nodes) or "no live node"
            raise ConfigError(f"ray executor: no node offers {_show(needs)} for a replica (nodes offer: {offered})")

    def _new_replica(self) -> Any:
        from lmdsl.executors.ray.replica import Replica

        cls = self._ray.remote(Replica)
        options: dict[str, Any] = {"num_cpus": self.num_cpus, "resources": self.resources or None,
                                   "max_concurrency": self.concurrency}
        if self.runtime_env:
            options["runtime_env"] = self.runtime_env  # also for a cluster this process joined, not started
        actor = cls.options(**options).remote(self._relay)
        self._loaded[actor] = set()
        return actor

    def close(self) -> None:
        """Stop the replicas (a later run starts new ones)."""
        ray, self._ray = self._ray, None
        if ray is None or not ray.is_initialized():
            return
        for actor in [*self._actors, self._relay]:
            with contextlib.suppress(Exception):
                ray.kill(actor)
        self._actors, self._relay, self._loaded = [], None, {}

    def width(self, num_threads: int = 1) -> int:
        """Examples in flight at once: replicas x concurrency (``num_threads`` does not apply)."""
        self._start()
        return len(self._actors) * self.concurrency

    def where(self) -> list[tuple[str, int]]:
        """(node id, pid) of every replica, starting them if needed."""
        ray = self._start()
        return ray.get([a.where.remote() for a in self._actors])

    # ---- a run --------------------------------------------------------------------------------
    def map(self, program: Runnable, examples: Sequence[Example], job: Job, *, finish: Finish,
            on_result: OnResult | None = None, num_threads: int = 1) -> list[Any]:
        if not isinstance(program, Module):  # replicas rebuild the program from its class and state
            raise ConfigError(f"ray executor: needs an lmdsl program (a Module), got a {type(program).__name__}")
        examples = list(examples)
        results: list[Any] = [None] * len(examples)
        if not examples:
            return results
        ray = self._start()
        ray.get(self._relay.use.remote(str(cache_dir() / "lm")))
        payload = build_payload(program)
        self._load_everywhere(payload)
        paths = dict(program.named_predictors())
        self.stats = RunStats()
        todo = collections.deque(range(len(examples)))
        tries: collections.Counter[int] = collections.Counter()
        inflight: dict[Any, tuple[int, Any]] = {}
        arrived: dict[int, Outcome] = {}  # finished on a replica, waiting for the rows before it
        delivered = 0
        depth = self.concurrency + 1  # one queued behind the running ones: a replica never waits for us

        def fill() -> None:
            for actor in list(self._actors):
                while todo and sum(1 for _, a in inflight.values() if a is actor) < depth:
                    i = todo.popleft()
                    ref = actor.run.remote(payload.digest, i, examples[i], job)
                    inflight[ref] = (i, actor)

        try:
            fill()
            while inflight:
                done, _ = ray.wait(list(inflight), num_returns=1, timeout=0.5)
                for ref in done:
                    i, actor = inflight.pop(ref)
                    try:
                        raw = ray.get(ref)
                    except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                        self._lost(actor, i, inflight, todo, tries, payload)
                        continue
                    except ray.exceptions.RayTaskError as exc:
                        raise _one_line(exc) from None
                    if i in arrived or i < delivered:
                        continue  # counted once, whatever else arrives for it
                    arrived[i] = self._outcome(raw, paths)
                    self.stats.rows_by_node[raw["node"]] = self.stats.rows_by_node.get(raw["node"], 0) + 1
                    self.stats.rows_by_pid[raw["pid"]] = self.stats.rows_by_pid.get(raw["pid"], 0) + 1
                for i in [i for i in todo if tries[i] > self.max_retries]:
                    todo.remove(i)  # died with its replica too often: an error row, not a hang
                    arrived[i] = Outcome(error=f"ray replica died {tries[i]} times while running this example")
                # finish (the metric) and on_result in input order, as with threads: the same
                # row is the first to raise or to exhaust the error budget.
                while delivered in arrived:
                    results[delivered] = finish(delivered, arrived.pop(delivered))
                    if on_result is not None and on_result(delivered, results[delivered]):
                        return results
                    delivered += 1
                fill()
            return results
        finally:
            for ref in inflight:  # a stop, an error or Ctrl-C: queued examples are not run
                with contextlib.suppress(Exception):
                    ray.cancel(ref)

    def _load_everywhere(self, payload: Any, timeout: float | None = None) -> None:
        need = [a for a in self._actors if payload.digest not in self._loaded.get(a, set())]
        if not need:
            return
        failure = None
        for ref in [a.load.remote(payload) for a in need]:
            try:  # every answer is read, so that no failed load is reported again by Ray later
                self._ray.get(ref, timeout=timeout)
            except self._ray.exceptions.RayTaskError as exc:
                failure = failure or exc
        if failure is not None:
            raise _one_line(failure) from None
        for a in need:
            self._loaded[a].add(payload.digest)

    def _lost(self, actor: Any, index: int, inflight: dict[Any, tuple[int, Any]], todo: Any,
              tries: collections.Counter, payload: Any) -> None:
        """A replica died: its examples go back to the front of the queue, a new replica joins."""
        mine = [ref for ref, (_, a) in inflight.items() if a is actor]
        again = sorted([index] + [inflight.pop(ref)[0] for ref in mine])
        for i in again:
            tries[i] += 1
        todo.extendleft(reversed(again))
        self.stats.rows_retried += len(again)
        if actor in self._actors:
            self.stats.replicas_lost += 1
            self._actors.remove(actor)
            self._loaded.pop(actor, None)
            replacement = self._new_replica()
            self._actors.append(replacement)
            try:
                self._load_everywhere(payload, timeout=self.start_timeout)
            except LmdslError:  # the program cannot load there: a new replica would fail the same way
                raise
            except Exception:  # the cluster cannot give a new one now: go on with the others
                self._actors.remove(replacement)
                self._loaded.pop(replacement, None)
                with contextlib.suppress(Exception):
                    self._ray.kill(replacement)
        if not self._actors:
            raise ExecutorError("ray executor: every replica died; see the Ray logs (ray logs / /tmp/ray/session_latest)")

    def _outcome(self, raw: dict[str, Any], paths: dict[str, Any]) -> Outcome:
        """The replica's result, as this process's objects; its LM calls counted here too."""
        used = raw.get("usage") or {}
        _replay(used)
        trace = None
        if raw.get("trace") is not None:
            trace = [TraceEntry(paths[path], inputs, outputs) for path, inputs, outputs in raw["trace"]
                     if path in paths]
        return Outcome(raw.get("prediction"), raw.get("error"), bool(raw.get("assertion_failed")), trace,
                       dict(used), float(raw.get("latency") or 0.0))


def _replay(used: dict[str, Any]) -> None:
    """Count a replica's LM calls in this process's usage trackers (totals match a threads run)."""
    calls, cached = int(used.get("calls", 0)), int(used.get("cached_calls", 0))
    fresh = calls - cached
    for _ in range(cached):
        _usage.record({}, cached=True)
    if fresh > 0:
        tokens = {"prompt_tokens": int(used.get("prompt_tokens", 0)),
                  "completion_tokens": int(used.get("completion_tokens", 0))}
        _usage.record(tokens, cached=False, cost=float(used.get("cost") or 0.0) or None)
        for _ in range(fresh - 1):
            _usage.record({}, cached=False)


def _one_line(exc: Exception) -> Exception:
    """A replica's error as the driver's own: lmdsl's errors keep their class and message."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, LmdslError):
        return cause
    if cause is not None:
        return ExecutorError(f"ray executor: a replica failed: {type(cause).__name__}: {cause}")
    text = str(exc).strip().splitlines()
    return ExecutorError(f"ray executor: a replica failed: {text[-1] if text else type(exc).__name__}")


def replicas_that_fit(free_per_node: list[dict[str, float]], needs: dict[str, float]) -> int:
    """How many replicas needing ``needs`` each can start at once, node by node: free CPUs summed
    over the cluster overcount (half a CPU free on each of two nodes hosts no 1-CPU replica), and
    a replica counted that no node can host waits out the whole start timeout."""
    wanted = {name: amount for name, amount in needs.items() if amount > 0} or {"CPU": 1.0}  # 0 CPUs: one per CPU
    # 1e-9: Ray keeps amounts to 1e-4, and 1.5 - 0.5 must still hold one 1-CPU replica
    return sum(min(int((free.get(name, 0.0) + 1e-9) // amount) for name, amount in wanted.items())
               for free in free_per_node)


def _free_per_node(ray: Any) -> list[dict[str, float]]:
    try:
        from ray._private.state import available_resources_per_node
    except ImportError:  # a Ray without it: the cluster's free total, as one node
        return [ray.available_resources()]
    return list(available_resources_per_node().values())


def _show(resources: dict[str, float]) -> str:
    shown = {k: v for k, v in resources.items() if not k.startswith(("node:", "memory", "object_store"))}
    return "{" + ", ".join(f"{k}: {v:g}" for k, v in sorted(shown.items())) + "}"

