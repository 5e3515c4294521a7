"""parallel_map (order, early stop, context propagation, errors) and the stderr progress line."""

from __future__ import annotations

import contextvars
import io
import threading
import time

import pytest

from lmdsl.utils.parallel import parallel_map
from lmdsl.utils.progress import Progress

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


# ---- Progress ------------------------------------------------------------------------
class Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_pipe_prints_a_line_per_quarter():
    stream = io.StringIO()
    p = Progress(8, "eval", stream=stream)
    for _ in range(8):
        p.update(status="50.0%")
    p.close()
    lines = stream.getvalue().splitlines()
    assert [line.split(" · ")[0] for line in lines] == [
        "eval [#####...............] 2/8", "eval [##########..........] 4/8",
        "eval [###############.....] 6/8", "eval [####################] 8/8"]
    assert all(" · 50.0% · " in line and line.endswith(" s") for line in lines)


def test_progress_on_a_terminal_redraws_in_place():
    stream = Tty()
    p = Progress(3, stream=stream)
    for _ in range(3):
        p.update()
    p.close()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "[####################] 3/3" in text


def test_disabled_or_empty_progress_prints_nothing():
    stream = io.StringIO()
    for p in (Progress(5, stream=stream, enabled=False), Progress(0, stream=stream)):
        p.update()
        p.close()
    assert stream.getvalue() == ""


def test_progress_defaults_to_stderr(capsys):
    p = Progress(1, "x")
    p.update()
    p.close()
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("x [####################] 1/1")


def test_progress_is_thread_safe():
    stream = io.StringIO()
    p = Progress(400, stream=stream)
    parallel_map(lambda _: p.update(), range(400), num_threads=4)
    assert p.done == 400
    assert stream.getvalue().splitlines()[-1].startswith("[####################] 400/400")
