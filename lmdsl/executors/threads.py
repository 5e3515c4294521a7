"""The default executor: a thread pool in this process (lmdsl's behaviour before executors existed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmdsl.executors.base import Finish, Job, OnResult, Runnable, run_example
from lmdsl.primitives import Example
from lmdsl.utils.parallel import parallel_map


class ThreadsExecutor:
    """``num_threads`` threads, each example in a copy of the caller's context; ``finish`` runs in the
    worker thread (a metric that calls an LM runs in parallel too)."""

    name = "threads"

    def map(self, program: Runnable, examples: Sequence[Example], job: Job, *, finish: Finish,
            on_result: OnResult | None = None, num_threads: int = 1) -> list[Any]:
        def one(item: tuple[int, Example]) -> Any:
            index, example = item
            return finish(index, run_example(program, example, job))

        return parallel_map(one, enumerate(examples), num_threads=num_threads, on_result=on_result)

    def __repr__(self) -> str:
        return "ThreadsExecutor()"
