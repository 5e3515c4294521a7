"""Run a function over items in a thread pool, each task in a copy of the caller's context.

Copying the context carries ``lmdsl.context(...)`` overrides, usage trackers and traces
into the workers, which is what makes settings safe across threads.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    num_threads: int = 1,
    on_result: Callable[[int, R], bool | None] | None = None,
) -> list[R | None]:
    """Apply ``fn`` to every item; results in input order.

    ``on_result(index, result)`` runs in the caller's thread, in input order, as results
    arrive (a finished row waits for the rows before it, so what a caller sees, such as an
    error budget running out, does not depend on thread timing); returning True stops the
    run (remaining tasks are cancelled). Ctrl-C cancels pending work.

    This is the ``threads`` executor's engine (lmdsl/executors/threads.py); code that runs
    a program over examples goes through :func:`lmdsl.executors.run_program` instead.
    """
    items = list(items)
    results: list[R | None] = [None] * len(items)
    parent = contextvars.copy_context()
    if num_threads <= 1:
        for i, item in enumerate(items):
            result = results[i] = parent.copy().run(fn, item)
            if on_result and on_result(i, result):
                break
        return results
    pool = ThreadPoolExecutor(max_workers=num_threads, thread_name_prefix="lmdsl")
    futures: dict[Future[Any], int] = {}
    try:
        futures = {pool.submit(parent.copy().run, fn, item): i for i, item in enumerate(items)}
        pending = set(futures)
        finished: dict[int, R] = {}  # index -> result, for every finished task
        delivered = 0  # on_result has seen every index below this one
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: futures[f]):
                i = futures[fut]
                finished[i] = results[i] = fut.result()
            while delivered in finished:
                if on_result and on_result(delivered, finished[delivered]):
                    for p in pending:
                        p.cancel()
                    return results
                delivered += 1
        return results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
