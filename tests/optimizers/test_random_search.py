"""BootstrapFewShotWithRandomSearch: candidate order, best by score with deterministic ties,
determinism under a seed, stop_at_score, the report, the printed estimate and actual count."""

from __future__ import annotations

import json

import pytest
from tp_programs import PromptLM, QAProgram, demo_count, gold, number, rows

import lmdsl
from lmdsl.evaluate import exact_match
from lmdsl.optimizers import BootstrapFewShotWithRandomSearch


@pytest.fixture(autouse=True)
def _no_progress():
    lmdsl.configure(display_progress=False)


def search(**kwargs) -> BootstrapFewShotWithRandomSearch:
    rs = BootstrapFewShotWithRandomSearch(exact_match, **kwargs)
    rs.verbose = False
    return rs


TRAIN = rows(8)
VAL = rows(4, prefix="v", start=100)


def two_demos_win(inputs, messages, params):
    """Right on training rows (so every bootstrap succeeds); on the valset right only with exactly 2 demos."""
    if inputs["question"].startswith("v"):
        return gold(inputs) if demo_count(messages) == 2 else {"answer": "no"}
    return gold(inputs)


def test_candidates_come_in_order_zero_shot_labeled_bootstrap_then_shuffled(scripted):
    scripted(gold)
    rs = search(num_candidate_programs=3, max_bootstrapped_demos=2, max_labeled_demos=3)
    rs.compile(QAProgram(), trainset=TRAIN, valset=VAL)
    names = [c.name for c in rs.report.candidates]
    assert names[:3] == ["zero-shot", "labeled", "bootstrap"]
    assert [n.split("(")[0] for n in names[3:]] == [f"bootstrap-shuffled-{i}" for i in range(3)]
    assert [c.demos for c in rs.report.candidates[:3]] == [{"gen": 0}, {"gen": 3}, {"gen": 3}]


def test_best_by_score_and_ties_go_to_the_earliest(scripted):
    lmdsl.configure(lm=PromptLM(two_demos_win))
    rs = search(num_candidate_programs=6, max_bootstrapped_demos=3, max_labeled_demos=0, seed=0)
    compiled = rs.compile(QAProgram(), trainset=TRAIN, valset=VAL)
    report = rs.report
    winners = [i for i, c in enumerate(report.candidates) if c.demos == {"gen": 2}]
    assert len(winners) >= 2, "the test needs a tie between two 2-demo candidates"
    assert [c.score for c in report.candidates] == [100.0 if i in winners else 0.0
                                                    for i in range(len(report.candidates))]
    assert report.best == winners[0] and report.best_score == 100.0
    assert len(compiled.gen.demos) == 2


def test_all_equal_scores_keep_zero_shot(scripted):
    scripted(gold)
    rs = search(num_candidate_programs=2, max_bootstrapped_demos=1, max_labeled_demos=1)
    compiled = rs.compile(QAProgram(), trainset=TRAIN, valset=VAL)
    assert rs.report.best == 0 and compiled.gen.demos == []


def compile_demos(seed, threads=1):
    lmdsl.configure(lm=PromptLM(two_demos_win))
    rs = search(num_candidate_programs=4, max_bootstrapped_demos=3, max_labeled_demos=0, seed=seed,
                num_threads=threads)
    compiled = rs.compile(QAProgram(), trainset=TRAIN, valset=VAL)
    names = [(c.name, c.score, c.demos) for c in rs.report.candidates]
    return [d.to_dict() for d in compiled.gen.demos], names


def test_a_seed_makes_compiles_identical():
    first = compile_demos(seed=3)
    assert first[0], "the test needs a seed whose best candidate has (shuffled, bootstrapped) demos"
    assert compile_demos(seed=3) == first
    assert compile_demos(seed=3, threads=3) == first
    others = {json.dumps(compile_demos(seed=s)) for s in (0, 1, 2)}
    assert len(others | {json.dumps(first)}) > 1, "the seed should matter"


def test_stop_at_score_stops_early(scripted):
    lm = scripted(gold)
    rs = search(num_candidate_programs=8, stop_at_score=100.0)
    compiled = rs.compile(QAProgram(), trainset=TRAIN, valset=VAL)
    assert [c.name for c in rs.report.candidates] == ["zero-shot"]
    assert rs.report.notes == ["stopped early: zero-shot reached stop_at_score=100.0"]
    assert len(lm.requests) == len(VAL)  # nothing was bootstrapped
    assert compiled.gen.demos == []


def test_stop_at_score_after_a_later_candidate():
    lmdsl.configure(lm=PromptLM(two_demos_win))
    rs = search(num_candidate_programs=8, max_bootstrapped_demos=3, max_labeled_demos=0, stop_at_score=100.0)
    rs.compile(QAProgram(), trainset=TRAIN, valset=VAL)
    assert rs.report.candidates[-1].score == 100.0
    assert rs.report.best == len(rs.report.candidates) - 1 < 8 + 3 - 1


def test_the_report_has_scores_calls_tokens_and_time(scripted):
    def right_on_even_rows(inputs):
        return gold(inputs) if number(inputs["question"]) % 2 == 0 else {"answer": "no"}

    scripted(right_on_even_rows)
    rs = search(num_candidate_programs=2, max_bootstrapped_demos=2, max_labeled_demos=2)
    rs.compile(QAProgram(), trainset=TRAIN, valset=VAL)
    report = rs.report
    assert len(report.candidates) == 5
    for c in report.candidates:
        assert c.score == 50.0
        assert c.details["errors"] == 0
        assert c.details["lm_calls"] >= len(VAL) and c.details["tokens"] > 0 and c.details["wall_time"] >= 0
    assert report.candidates[0].details["lm_calls"] == len(VAL)  # zero-shot: scoring only
    assert report.candidates[1].details["lm_calls"] == len(VAL)  # labeled: no bootstrap calls
    assert report.candidates[2].details["attempted"] == 3 and report.candidates[2].details["passed"] == 2
    assert sum(c.details["lm_calls"] for c in report.candidates) == report.lm_calls == report.usage["lm_calls"]
    assert sum(c.details["tokens"] for c in report.candidates) == report.usage["total_tokens"]
    assert report.wall_time > 0
    assert report.lm_calls <= report.estimated_calls
    data = json.loads(json.dumps(report.to_dict()))
    assert data["best"] == 0 and data["best_score"] == 50.0 and len(data["candidates"]) == 5
    assert set(data) >= {"optimizer", "candidates", "estimated_calls", "usage", "wall_time"}


def test_estimate_before_and_actual_count_after_on_stderr(scripted, capsys):
    scripted(gold)
    rs = BootstrapFewShotWithRandomSearch(exact_match, num_candidate_programs=1, max_bootstrapped_demos=1,
                                          max_labeled_demos=1)
    rs.compile(QAProgram(), trainset=TRAIN, valset=VAL)
    out, err = capsys.readouterr()
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("[random-search]")]
    # 4 candidates x 4 valset rows + 2 bootstraps x 8 training rows, 1 predictor
    assert lines[0] == ("[random-search] estimated about 32 LM calls (32 program runs x 1 predictor; "
                        "cached answers cost none)")
    assert [line.split(":")[0] for line in lines[1:5]] == [
        "[random-search] candidate 1/4 zero-shot", "[random-search] candidate 2/4 labeled",
        "[random-search] candidate 3/4 bootstrap", "[random-search] candidate 4/4 bootstrap-shuffled-0(k=1)"]
    assert lines[-2].startswith("[random-search] done in ")
    assert f"{rs.report.lm_calls} LM calls (" in lines[-2]
    assert lines[-1] == "[random-search] best: zero-shot with 100.0"


def test_without_a_valset_the_trainset_is_used(scripted):
    lm = scripted(gold)
    rs = search(num_candidate_programs=0, max_bootstrapped_demos=1, max_labeled_demos=1)
    rs.compile(QAProgram(), trainset=TRAIN)
    scored = {m[-1]["content"] for m in lm.requests}
    assert scored == {f"Question: q{i}" for i in range(8)}
