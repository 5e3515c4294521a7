"""Phases: a compile and its candidates' scoring recorded as a tree with calls, tokens and time,
and as parent spans of the program calls made inside them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import lmdsl
from lmdsl.evaluate import exact_match
from lmdsl.optimizers import BootstrapFewShotWithRandomSearch
from lmdsl.telemetry import phase, record_phases

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "optimizers"))
from tp_programs import QAProgram, gold, rows


@pytest.fixture(autouse=True)
def _quiet():
    lmdsl.configure(display_progress=False)


def compile_once():
    rs = BootstrapFewShotWithRandomSearch(exact_match, num_candidate_programs=1, max_bootstrapped_demos=2,
                                          max_labeled_demos=2)
    rs.verbose = False
    return rs, rs.compile(QAProgram(), trainset=rows(4), valset=rows(3, prefix="v", start=50))


def test_compile_phases_form_a_tree_with_usage(scripted):
    scripted(gold)
    with record_phases() as log:
        rs, _ = compile_once()
    phases = log.phases
    top = phases[0]
    assert top.name == "compile random-search" and top.depth == 0 and top.parent is None
    children = [p for p in phases if p.parent == 0]
    names = [p.name for p in children]
    assert names[0] == "candidate 1/4 zero-shot" and "compile labeled-few-shot" in names and "compile bootstrap" in names
    scored = [p for p in children if p.name.startswith("candidate ")]
    assert [p.attributes["score"] for p in scored] == [c.score for c in rs.report.candidates]
    assert all(p.attributes["rows"] == 3 for p in scored)
    # every LM call of the compile happened inside some child phase, and the top phase counts them all
    assert top.usage["calls"] == rs.report.usage["calls"] > 0
    assert sum(p.usage["calls"] for p in children) == top.usage["calls"]
    assert top.wall_time >= max(p.wall_time for p in children)


def test_a_failing_phase_keeps_its_error():
    with record_phases() as log, pytest.raises(ValueError), phase("doomed"):
        raise ValueError("no")
    assert log.phases[0].error == "ValueError: no"


def test_phases_are_free_when_nothing_listens():
    with phase("alone") as p:
        p.set(score=1.0)  # no log, no tracer: nothing to record, no error
    assert p.record is None and p.span is None


def test_compile_spans_parent_candidate_scoring(spans, scripted):
    scripted(gold)
    compile_once()
    finished = spans()
    by_id = {s.context.span_id: s for s in finished}
    (top,) = [s for s in finished if s.name == "phase compile random-search"]
    candidate = next(s for s in finished if s.name == "phase candidate 1/4 zero-shot")
    assert candidate.parent.span_id == top.context.span_id
    program = next(s for s in finished if s.name == "program QAProgram" and s.parent.span_id == candidate.context.span_id)
    assert by_id[program.parent.span_id] is candidate
    assert top.attributes["lmdsl.usage.calls"] > 0
