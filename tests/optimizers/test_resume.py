"""Resuming: LM calls go through the cache, so re-running a compile repeats no call, and a run
interrupted after N calls loses none of them."""

from __future__ import annotations

import pytest
from tp_programs import CountingLM, TwoStep, gold, number, rows

import lmdsl
from lmdsl.evaluate import exact_match
from lmdsl.lm.cache import shared_cache
from lmdsl.optimizers import BootstrapFewShot, BootstrapFewShotWithRandomSearch

TRAIN = rows(8)
VAL = rows(4, prefix="v", start=100)


def two_step(inputs):
    """Query writer, then an answerer right for every fourth question: most traces fail, so the
    bootstrap runs a second round (temperature 1.0, new cache keys)."""
    if "query" not in inputs:
        return {"query": f"find {inputs['question']}"}
    i = number(inputs["question"])
    return gold(inputs) if i % 4 == 0 else {"answer": "unsure"}


def random_search(threads: int = 1) -> BootstrapFewShotWithRandomSearch:
    rs = BootstrapFewShotWithRandomSearch(exact_match, num_candidate_programs=3, max_bootstrapped_demos=3,
                                          max_labeled_demos=3, max_rounds=2, num_threads=threads, seed=1)
    rs.verbose = False
    return rs


def compile_with(lm, threads: int = 1):
    lmdsl.configure(lm=lm, display_progress=False)
    rs = random_search(threads)
    compiled = rs.compile(TwoStep(), trainset=TRAIN, valset=VAL)
    return compiled, rs.report


def demos_of(program):
    return {path: [d.to_dict() for d in p.demos] for path, p in program.named_predictors()}


def restart():
    """What a new process would see: nothing in memory, everything on disk."""
    shared_cache().clear_memory()


@pytest.mark.parametrize("threads", [1, 2])
def test_a_second_compile_is_answered_entirely_from_the_cache(threads):
    first_lm = CountingLM(two_step)
    compiled, report = compile_with(first_lm, threads)
    assert first_lm.model_calls == report.lm_calls > 0
    assert any(p.get("rollout_id") == 1 and p["temperature"] == 1.0 for p in first_lm.params)  # round 2 ran
    restart()
    never = CountingLM(two_step, forbid=True)
    again, report2 = compile_with(never, threads)
    assert never.model_calls == 0 and report2.lm_calls == 0
    assert report2.usage["cached_calls"] == report.usage["calls"]
    assert demos_of(again) == demos_of(compiled)
    assert [(c.name, c.score) for c in report2.candidates] == [(c.name, c.score) for c in report.candidates]


def test_the_cache_does_not_answer_a_different_model():
    compile_with(CountingLM(two_step))
    other = CountingLM(two_step, model="scripted/other")
    compile_with(other)
    assert other.model_calls > 0


@pytest.mark.parametrize(("threads", "stop_after"), [(1, 5), (1, 23), (2, 17)])
def test_an_interrupted_compile_resumes_without_repeating_a_call(tmp_path, monkeypatch, threads, stop_after):
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(tmp_path / "full"))
    full_lm = CountingLM(two_step)
    full, _ = compile_with(full_lm, threads)
    total = full_lm.model_calls
    assert total > stop_after

    monkeypatch.setenv("LMDSL_CACHE_DIR", str(tmp_path / "interrupted"))
    interrupted = CountingLM(two_step, limit=stop_after)
    with pytest.raises(KeyboardInterrupt):
        compile_with(interrupted, threads)
    assert interrupted.model_calls == stop_after

    restart()
    resumed_lm = CountingLM(two_step)
    resumed, report = compile_with(resumed_lm, threads)
    assert resumed_lm.model_calls == total - stop_after  # only the remaining calls reach the model
    assert report.usage["cached_calls"] >= stop_after
    assert demos_of(resumed) == demos_of(full)


def test_a_crash_mid_bootstrap_keeps_finished_calls(tmp_path):
    class Crash(Exception):
        pass

    lmdsl.configure(display_progress=False)
    crashing = CountingLM(two_step, limit=3, interrupt=Crash)
    b = BootstrapFewShot(exact_match, max_bootstrapped_demos=8, max_labeled_demos=0, max_errors=0)
    b.verbose = False
    lmdsl.configure(lm=crashing)
    with pytest.raises(Exception, match="teacher runs raised"):
        b.compile(TwoStep(), trainset=TRAIN)
    restart()
    lm = CountingLM(two_step)
    lmdsl.configure(lm=lm)
    b.compile(TwoStep(), trainset=TRAIN)
    assert lm.model_calls == 2 * len(TRAIN) - 3
