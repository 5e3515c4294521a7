"""The Ray executor on a real two-node Ray cluster (tests/executors/conftest.py)."""

from __future__ import annotations

import os
import signal
import sys

import pytest
import ray_programs as rp
from ray_cluster_support import NODE2

import lmdsl
from lmdsl.errors import ConfigError, ErrorBudgetExceeded, ExecutorError
from lmdsl.evaluate import Evaluate, MetricError
from lmdsl.executors import RayExecutor, set_program_target
from lmdsl.executors.ray.cluster import import_ray


@pytest.fixture
def mood_lm():
    lmdsl.configure(lm=rp.lm, display_progress=False)


def _summary(result):
    return ([r.example.text for r in result.results], [r.prediction.label if r.prediction else None
                                                        for r in result.results], [r.score for r in result.results])


def test_same_scores_row_order_and_usage_as_threads(replicas, mood_lm):
    devset = rp.rows(30)
    threads = Evaluate(devset, rp.metric, num_threads=2)(rp.Mood())
    on_ray = Evaluate(devset, rp.metric, executor=replicas)(rp.Mood())
    assert 0 < on_ray.score < 100 and on_ray.score == threads.score
    assert _summary(on_ray) == _summary(threads)
    assert on_ray.usage == threads.usage and on_ray.usage["calls"] == 30
    assert [r.calls for r in on_ray.results] == [1] * 30
    assert sum(replicas.stats.rows_by_pid.values()) == 30 and len(replicas.stats.rows_by_pid) == 2


def test_bootstrapping_finds_the_same_demos_through_traces_sent_by_path(replicas, mood_lm):
    def compile_with(executor):
        with lmdsl.context(executor=executor, num_threads=2):  # batches of 2 either way (2 replicas)
            tp = lmdsl.BootstrapFewShot(rp.metric, max_bootstrapped_demos=3, max_labeled_demos=0)
            program = tp.compile(rp.NoteThenMood(), trainset=rp.trainset)
        return {path: [d.toDict() if hasattr(d, "toDict") else dict(d) for d in p.demos]
                for path, p in program.named_predictors()}, tp.stats

    assert compile_with(replicas) == compile_with("threads")


def test_calibrate_fits_the_same_biases_on_ray(replicas, mood_lm):
    def fit(executor):
        with lmdsl.context(executor=executor):
            tp = lmdsl.Calibrate(rp.metric, max_bias=2.0, step=0.5, sweeps=1)
            program = tp.compile(rp.Mood(), trainset=rp.rows(12))
        return program.classify.label_bias, [c.details for c in tp.report.candidates]

    on_ray, threads = fit(replicas), fit("threads")
    assert on_ray == threads and on_ray[0]["positive"] >= 0.5
    assert threads[1][1]["trainset_calibrated"] > threads[1][1]["trainset_unbiased"]


def test_program_batch_and_error_rows(replicas, mood_lm):
    out = rp.Mood().batch([{"text": "good day"}, {"text": "explode"}, {"text": "bad day"}], executor=replicas)
    assert [p.label if p else None for p in out] == ["positive", None, "negative"]
    assert "RuntimeError: scripted failure" in out.errors[1]


def test_error_budget_and_metric_errors_behave_as_with_threads(replicas, mood_lm):
    rows = [lmdsl.Example(text=f"explode {i}", label="positive").with_inputs("text") for i in range(6)]
    for executor in ("threads", replicas):
        with pytest.raises(ErrorBudgetExceeded, match=r"stopped after 3 of 3 examples raised \(max_errors=2\)"):
            Evaluate(rows, rp.metric, max_errors=2, executor=executor)(rp.Mood())

    def broken(example, prediction, trace=None):
        raise KeyError("gold")

    for executor in ("threads", replicas):
        with pytest.raises(MetricError, match=r"metric broken raised KeyError: 'gold'.* on devset row 0"):
            Evaluate(rp.rows(5), broken, executor=executor)(rp.Mood())


def test_settings_choose_ray_for_evaluate(replicas, mood_lm):
    lmdsl.configure(executor=replicas)
    replicas.stats.rows_by_pid.clear()
    Evaluate(rp.rows(4), rp.metric)(rp.Mood())
    assert sum(replicas.stats.rows_by_pid.values()) == 4


def test_replicas_pinned_to_the_second_node_run_there(ray_cluster, mood_lm):
    ray = import_ray()
    node2 = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get(NODE2)]
    assert len(node2) == 1
    executor = RayExecutor(replicas=1, num_cpus=0.5, resources={NODE2: 1})
    try:
        result = Evaluate(rp.rows(6), rp.metric, executor=executor)(rp.Mood())
        assert result.n == 6 and executor.stats.rows_by_node == {node2[0]: 6}
        assert [node for node, _ in executor.where()] == node2
    finally:
        executor.close()


def test_a_replica_killed_mid_run_loses_no_row_and_counts_none_twice(ray_cluster, mood_lm):
    executor = RayExecutor(replicas=2, num_cpus=0.5, runtime_env={"env_vars": {"LMDSL_TEST_LM_DELAY": "0.05"}})
    devset = rp.rows(40)
    try:
        victim = executor.where()[0][1]
        scored = []

        def metric(example, prediction, trace=None):  # runs on the driver: kill once 8 rows are in
            scored.append(example.text)
            if len(scored) == 8:
                os.kill(victim, signal.SIGKILL)
            return rp.metric(example, prediction, trace)

        result = Evaluate(devset, metric, executor=executor)(rp.Mood())
        assert scored == [ex.text for ex in devset]  # each row scored once, in order
        expected = Evaluate(devset, rp.metric)(rp.Mood())
        assert executor.stats.replicas_lost == 1 and executor.stats.rows_retried >= 1
        assert victim not in [pid for _, pid in executor.where()]
        assert _summary(result) == _summary(expected)
        assert result.usage["calls"] == 40  # a row cut short on the dead replica counted no call
    finally:
        executor.close()


def test_a_program_the_workers_cannot_import_is_one_clear_line(replicas, tmp_path, mood_lm):
    (tmp_path / "only_here.py").write_text("from ray_programs import Mood\n")
    sys.path.insert(0, str(tmp_path))  # after ray.init: the workers never get this path
    try:
        import only_here

        program = set_program_target(only_here.Mood(), "only_here:Mood")
        with pytest.raises(ConfigError) as info:
            Evaluate(rp.rows(2), rp.metric, executor=replicas)(program)
    finally:
        sys.path.remove(str(tmp_path))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("ray executor: workers cannot import program only_here:Mood: no module named "
                              "'only_here' (install it on every node, or ship it with a Ray runtime_env")


def test_a_program_built_differently_on_the_workers_is_refused(replicas, mood_lm):
    program = rp.Mood()
    program.strictness = 3  # a plain setting the class would not rebuild
    with pytest.raises(ConfigError, match=r"differs from the one being run \(strictness: 3 here, \(none\) there\)"):
        Evaluate(rp.rows(2), rp.metric, executor=replicas)(program)


def test_missing_ray_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"needs Ray, which is not installed: pip install 'lmdsl\[ray\]'"):
        import_ray()


def test_replicas_no_node_can_host_are_refused_at_once(ray_cluster):
    executor = RayExecutor(replicas=1, num_cpus=2, resources={NODE2: 1})  # node 2 has 1 CPU, the head no NODE2
    with pytest.raises(ConfigError, match=r"no node offers \{CPU: 2, lmdsl_node2: 1\} for a replica \(nodes offer: "):
        executor.where()


def test_replicas_the_cluster_cannot_host_yet_are_a_run_time_error_naming_what_is_free(ray_cluster):
    # Node 2 offers one unit of NODE2: the second replica waits for the first to go, which it never does.
    executor = RayExecutor(replicas=2, num_cpus=0.1, resources={NODE2: 1}, start_timeout=3)
    try:
        with pytest.raises(ExecutorError) as info:
            executor.where()
    finally:
        executor.close()
    message = str(info.value)
    assert not isinstance(info.value, ConfigError) and "\n" not in message
    assert message.startswith("ray executor: 2 replica(s) did not start within 3 s (each needs {CPU: 0.1, "
                              "lmdsl_node2: 1}; cluster has {CPU: 3, lmdsl_node2: 1}, free now {")
