"""The executor seam without Ray: threads semantics, the plugin hook, settings, program.batch."""

from __future__ import annotations

import threading

import pytest
import ray_programs as rp

import lmdsl
from lmdsl.errors import ConfigError
from lmdsl.evaluate import Evaluate
from lmdsl.executors import Job, Outcome, ThreadsExecutor, get_executor, parallel_width, run_program
from lmdsl.hookspecs import hookimpl
from lmdsl.plugins import plugin_manager


@pytest.fixture
def mood_lm():
    lmdsl.configure(lm=rp.lm, display_progress=False)


def test_threads_is_the_default_and_names_resolve_to_one_shared_instance():
    assert isinstance(get_executor(), ThreadsExecutor)
    assert get_executor("threads") is get_executor("threads")
    with pytest.raises(ConfigError, match=r"unknown executor 'nope'; known: ray, threads"):
        get_executor("nope")


def test_outcomes_carry_prediction_error_usage_and_trace(mood_lm):
    examples = [*rp.rows(2), lmdsl.Example(text="explode now").with_inputs("text")]
    outcomes = run_program(rp.NoteThenMood(), examples, Job(trace=True))
    assert [o.prediction.label for o in outcomes[:2]] == ["negative", "positive"]
    assert [len(o.trace) for o in outcomes[:2]] == [2, 2]
    assert outcomes[0].usage["calls"] == 2 and outcomes[0].tokens > 0
    assert outcomes[2].prediction is None and outcomes[2].error.startswith("RuntimeError: scripted failure")


def test_on_result_sees_rows_in_input_order_even_when_later_rows_finish_first(mood_lm):
    seen = []
    started = threading.Barrier(3, timeout=5)

    def finish(index, outcome):
        if index < 3:
            started.wait()  # rows 0-2 run at once; row 0 then waits for the others to finish
        if index == 0:
            threading.Event().wait(0.2)
        return index

    run_program(rp.Mood(), rp.rows(6), finish=finish, on_result=lambda i, v: seen.append(i), num_threads=3)
    assert seen == list(range(6))


def test_a_third_party_executor_registers_through_the_hook_and_is_used_everywhere(mood_lm):
    calls = []

    class Recording(ThreadsExecutor):
        name = "recording"

        def map(self, program, examples, job, **kwargs):
            calls.append((type(program).__name__, len(examples), job))
            return super().map(program, examples, job, **kwargs)

    class Plugin:
        @hookimpl
        def lmdsl_register_executors(self, register):
            register("recording", Recording)

    plugin_manager().add(Plugin(), "recording-plugin")
    result = Evaluate(rp.devset, rp.metric, executor="recording")(rp.Mood())
    assert result.n == len(rp.devset) and calls == [("Mood", len(rp.devset), Job())]
    with lmdsl.context(executor="recording"):  # the setting reaches optimizers' passes too
        lmdsl.BootstrapFewShot(rp.metric, max_bootstrapped_demos=2, max_labeled_demos=0).compile(
            rp.Mood(), trainset=rp.trainset)
    assert calls[1][2] == Job(trace=True, exclude_self=True)
    assert "recording" in plugin_manager().registry("executors").names()


def test_threads_width_is_num_threads():
    assert parallel_width(3) == 3
    lmdsl.configure(num_threads=2)
    assert parallel_width() == 2


def test_batch_returns_predictions_in_order_with_errors_per_row(mood_lm):
    out = rp.Mood().batch([{"text": "so good"}, {"text": "explode"}, rp.rows(1)[0]], num_threads=2)
    assert [p.label if p else None for p in out] == ["positive", None, "negative"]
    assert list(out.errors) == [1] and "scripted failure" in out.errors[1]
    results, failed, errors = rp.Mood().batch([{"text": "good"}, {"text": "explode"}], return_failed_examples=True)
    assert results[1] is None and [f.text for f in failed] == ["explode"] and "scripted failure" in errors[0]
    with pytest.raises(ConfigError, match="row 0 must be an Example or a dict"):
        rp.Mood().batch(["text"])


def test_custom_outcome_objects_are_plain_data():
    assert Outcome().calls == 0 and Outcome(usage={"calls": 3, "total_tokens": 9}).tokens == 9


@pytest.mark.parametrize("free_per_node, needs, expected", [
    ([{"CPU": 1.5}, {"CPU": 0.5}], {"CPU": 1}, 1),  # 2 CPUs free in all, but no node holds two replicas
    ([{"CPU": 2.0}, {"CPU": 1.0}], {"CPU": 1}, 3),
    ([{"CPU": 2.0}, {"CPU": 1.0, "gpu": 1.0}], {"CPU": 0.5, "gpu": 1}, 1),  # the custom resource decides
    ([{"CPU": 0.3}], {"CPU": 0.1}, 3),  # float amounts: 0.3 // 0.1 would be 2
    ([{"CPU": 4.0}], {"CPU": 0}, 4),  # replicas asking no CPU: one per free CPU
    ([{}], {"CPU": 1}, 0),
])
def test_auto_replica_count_packs_node_by_node(free_per_node, needs, expected):
    from lmdsl.executors.ray.executor import replicas_that_fit

    assert replicas_that_fit(free_per_node, needs) == expected
