"""The embedded model on Ray replicas: each replica loads it once and answers as this process does."""

from __future__ import annotations

from pathlib import Path

import pytest

import lmdsl
from lmdsl.cli.targets import load_module
from lmdsl.evaluate import Evaluate
from lmdsl.executors import RayExecutor
from lmdsl.lm.local import local_extra_installed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not local_extra_installed(), reason="needs pip install 'lmdsl[local]'"),
]

SENTIMENT = Path(__file__).resolve().parents[2] / "examples" / "sentiment.py"


def test_replicas_answer_sst2_as_threads_do_and_their_calls_are_cached_here(ray_cluster):
    sentiment = load_module(str(SENTIMENT))  # a user's file, as the CLI loads it: replicas import it by path
    rows = sentiment.devset[:8]
    lmdsl.configure(lm=lmdsl.LM("local/smollm2"), display_progress=False)
    executor = RayExecutor(replicas=2, num_cpus=0.5)
    try:
        on_ray = Evaluate(rows, sentiment.metric, executor=executor)(sentiment.Sentiment())
        assert on_ray.usage["lm_calls"] == 8 and len(executor.stats.rows_by_pid) == 2
        pids = sorted(executor.stats.rows_by_pid)
        # The replicas' completions are in this process's cache: threads repeat no call.
        threads = Evaluate(rows, sentiment.metric)(sentiment.Sentiment())
        assert threads.usage["lm_calls"] == 0 and threads.usage["cached_calls"] == 8
        assert [r.prediction.label for r in on_ray.results] == [r.prediction.label for r in threads.results]
        # A new program version (demos) reuses the same replica processes and their loaded model.
        program = sentiment.Sentiment()
        program.classify.demos = [rows[0]]
        again = Evaluate(rows[1:5], sentiment.metric, executor=executor)(program)
        assert again.n == 4 and set(executor.stats.rows_by_pid) <= set(pids)
    finally:
        executor.close()
