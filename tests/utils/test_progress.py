"""Progress: plain lines off a terminal, a live rich bar on a real terminal (a pty), never stdout."""

from __future__ import annotations

import io
import os
import pty
import re
import select

import lmdsl
from lmdsl.utils.parallel import parallel_map
from lmdsl.utils.progress import Progress
from lmdsl.utils.usage import track_usage


def test_off_a_terminal_a_line_per_tenth_with_eta():
    stream = io.StringIO()
    p = Progress(20, "eval", stream=stream, interval=3600)
    for i in range(20):
        p.update(status=f"{100 * (i % 2):.1f}%")
    p.close()
    lines = stream.getvalue().splitlines()
    assert [line.split(" · ")[0] for line in lines] == [f"eval {n}/20 ({5 * n}%)" for n in range(2, 21, 2)]
    assert all(" ETA " in line for line in lines[:-1]) and " ETA " not in lines[-1]
    assert lines[-1].startswith("eval 20/20 (100%) · 100.0% · ") and lines[-1].endswith(" s")


def test_off_a_terminal_a_line_at_least_every_interval():
    stream = io.StringIO()
    p = Progress(1000, "slow", stream=stream, interval=0)
    for _ in range(3):
        p.update()
    assert len(stream.getvalue().splitlines()) == 3  # a long pass never looks stuck


def test_calls_and_tokens_come_from_the_usage_tracker(scripted):
    scripted(lambda inputs: "Answer: yes")
    predictor = lmdsl.Predict("question -> answer")
    stream = io.StringIO()
    with track_usage():
        predictor(question="before the bar")  # not counted: the bar counts from when it is made
        p = Progress(2, "run", stream=stream, interval=0)
        for q in ("one", "two"):
            predictor(question=q)
            p.update()
    first, second = stream.getvalue().splitlines()
    assert " · 1 LM calls · " in first and " · 2 LM calls · " in second
    tokens = [int(re.search(r"([\d,]+) tokens", line).group(1).replace(",", "")) for line in (first, second)]
    assert 0 < tokens[0] < tokens[1]


def _on_a_pty(run):
    master, slave = pty.openpty()
    stream = os.fdopen(slave, "w", buffering=1)
    try:
        run(stream)
        stream.flush()
        chunks = []
        while select.select([master], [], [], 0.5)[0]:  # everything written, however it was split
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks).decode("utf-8", "replace")
    finally:
        stream.close()
        os.close(master)


def test_on_a_terminal_a_live_bar_with_score_calls_and_eta(scripted, capsys):
    scripted(lambda inputs: "Answer: yes")
    predictor = lmdsl.Predict("question -> answer")

    def run(stream):
        with track_usage() as usage:
            p = Progress(3, "candidate 1/3", stream=stream, usage=usage)
            assert p._live is not None  # rich drives this one
            for q in ("a", "b", "c"):
                predictor(question=q)
                p.update(status="66.7%")
            p.close()

    text = _on_a_pty(run)
    assert "candidate 1/3" in text and "3/3" in text and "66.7%" in text and "3 LM calls" in text
    assert "ETA" in text and "\x1b[" in text  # drawn with terminal control sequences, not lines
    assert capsys.readouterr().out == ""


def test_a_second_live_bar_falls_back_to_lines():
    def run(stream):
        outer = Progress(2, "outer", stream=stream)
        inner = Progress(2, "inner", stream=stream)
        assert outer._live is not None and inner._live is None
        inner.update()
        inner.close()
        outer.close()

    assert "inner 1/2" in _on_a_pty(run)


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
    assert out == "" and err.startswith("x 1/1 (100%)")


def test_progress_is_thread_safe():
    stream = io.StringIO()
    p = Progress(400, stream=stream, interval=3600)
    parallel_map(lambda _: p.update(), range(400), num_threads=4)
    assert p.done == 400
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("400/400 (100%)")
