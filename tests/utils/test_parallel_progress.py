"""parallel_map (order, early stop, context propagation, errors) and the stderr progress line."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from lmdsl.utils.parallel import parallel_map

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("test_var", default="unset")


@pytest.mark.parametrize("threads", [1, 4])
def test_results_in_input_order(threads):
    def slow_square(x):
        time.sleep(0.001 * (10 - x))
        return x * x

    assert parallel_map(slow_square, range(10), num_threads=threads) == [x * x for x in range(10)]


def test_threads_really_run_in_parallel():
    barrier = threading.Barrier(3, timeout=5)
    assert parallel_map(lambda x: barrier.wait() is not None, range(3), num_threads=3) == [True] * 3


@pytest.mark.parametrize("threads", [1, 3])
def test_workers_see_the_callers_context(threads):
    token = VAR.set("caller")
    try:
        assert parallel_map(lambda _: VAR.get(), range(5), num_threads=threads) == ["caller"] * 5
    finally:
        VAR.reset(token)


def test_each_task_gets_its_own_copy_of_the_context():
    def set_and_read(x):
        before = VAR.get()
        VAR.set(f"task{x}")
        return before

    assert parallel_map(set_and_read, range(6), num_threads=1) == ["unset"] * 6
    assert parallel_map(set_and_read, range(6), num_threads=3) == ["unset"] * 6
    assert VAR.get() == "unset"


@pytest.mark.parametrize("threads", [1, 2])
def test_on_result_runs_in_the_caller_and_can_stop(threads):
    caller = threading.get_ident()
    seen = []

    def on_result(i, result):
        assert threading.get_ident() == caller
        seen.append(i)
        return len(seen) >= 3

    results = parallel_map(lambda x: x, range(50), num_threads=threads, on_result=on_result)
    assert len(seen) == 3
    assert sum(r is not None for r in results) >= 3
    if threads == 1:
        assert results == [0, 1, 2] + [None] * 47


@pytest.mark.parametrize("threads", [1, 3])
def test_exceptions_propagate(threads):
    def boom(x):
        if x == 2:
            raise ValueError("two")
        return x

    with pytest.raises(ValueError, match=r"^two$"):
        parallel_map(boom, range(5), num_threads=threads)


def test_keyboard_interrupt_in_a_worker_reaches_the_caller():
    def interrupt(x):
        if x == 1:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        parallel_map(interrupt, range(4), num_threads=2)
