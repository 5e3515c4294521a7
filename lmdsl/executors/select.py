"""The one seam every parallel loop goes through: pick the executor, run a program over examples.

``Evaluate``, bootstrapping, candidate scoring, Calibrate's pass and BootstrapFinetune's teacher
pass all call :func:`run_program`; which executor runs it comes from the call (``executor=``),
else the ``executor`` setting (``lmdsl.configure(executor=...)`` / ``lmdsl.context``), else
``threads``. Executors are registered by name through the ``lmdsl_register_executors`` hook.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from lmdsl import settings
from lmdsl.errors import ConfigError, PluginError
from lmdsl.executors.base import Executor, Finish, Job, OnResult, Outcome, Runnable
from lmdsl.executors.threads import ThreadsExecutor
from lmdsl.primitives import Example

_THREADS = ThreadsExecutor()
_by_name: dict[str, Executor] = {}
_by_name_lock = threading.Lock()


def get_executor(spec: str | Executor | None = None) -> Executor:
    """An executor object: ``spec`` itself, the one registered under the name ``spec`` (one shared
    instance per name per process, so that Ray replicas outlive a single evaluation), or the
    ``executor`` setting's when ``spec`` is None."""
    if spec is None:
        spec = settings.get("executor") or "threads"
    if not isinstance(spec, str):
        if not callable(getattr(spec, "map", None)):
            raise ConfigError(f"executor must be a registered name or an object with .map(...), got {spec!r}")
        return spec
    if spec == "threads":  # the default needs no plugin scan (no plugin can take this name: duplicates are refused)
        return _THREADS
    with _by_name_lock:
        found = _by_name.get(spec)
        if found is None:
            from lmdsl.plugins import plugin_manager

            try:
                factory = plugin_manager().registry("executors").get(spec)
            except PluginError as exc:
                raise ConfigError(str(exc)) from None
            found = _by_name[spec] = factory()
        return found


def run_program(program: Runnable, examples: Sequence[Example], job: Job | None = None, *, finish: Finish | None = None,
                on_result: OnResult | None = None, num_threads: int | None = None,
                executor: str | Executor | None = None) -> list[Any]:
    """``finish(index, outcome)`` for every example, in input order (``None`` for rows a stop left undone).

    Without ``finish`` the outcomes themselves are returned.
    """
    chosen = get_executor(executor)
    threads = num_threads or int(settings.get("num_threads"))
    return chosen.map(program, list(examples), job or Job(), finish=finish or _identity, on_result=on_result,
                      num_threads=threads)


def parallel_width(num_threads: int | None = None, executor: str | Executor | None = None) -> int:
    """How many examples the executor runs at once: a loop that works in batches (bootstrapping
    stops once it has enough demos) sizes its batches with this."""
    chosen = get_executor(executor)
    threads = num_threads or int(settings.get("num_threads"))
    width = getattr(chosen, "width", None)
    return max(1, int(width(threads))) if callable(width) else threads


def _identity(_index: int, outcome: Outcome) -> Outcome:
    return outcome
