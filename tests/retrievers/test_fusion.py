"""Reciprocal rank fusion, shared by Retrieve (several queries) and the hybrid retriever."""

from __future__ import annotations

import pytest

from lmdsl.retrievers import Passage
from lmdsl.retrievers.fusion import RRF_K, dedupe, reciprocal_rank_fusion


def P(pid: str, score: float = 0.0) -> Passage:
    return Passage(text=f"text of {pid}", title=pid.upper(), id=pid, score=score)


def rrf(*ranks: int, weight: float = 1.0) -> float:
    return sum(weight / (RRF_K + r) for r in ranks)


def test_agreement_beats_a_single_top_hit():
    passages, scores = reciprocal_rank_fusion([[P("a"), P("b")], [P("c"), P("b")]])
    assert [p.id for p in passages] == ["b", "a", "c"]
    assert scores == pytest.approx([rrf(2, 2), rrf(1), rrf(1)])


def test_weights_scale_each_list():
    lists = [[P("a"), P("b")], [P("b"), P("a")]]
    assert [p.id for p in reciprocal_rank_fusion(lists)[0]] == ["a", "b"]  # tie: earlier list wins
    passages, scores = reciprocal_rank_fusion(lists, weights=[1.0, 2.0])
    assert [p.id for p in passages] == ["b", "a"]
    assert scores == pytest.approx([rrf(2) + rrf(1, weight=2), rrf(1) + rrf(2, weight=2)])


def test_duplicates_within_a_list_are_dropped_before_ranking():
    passages, scores = reciprocal_rank_fusion([[P("a"), P("a"), P("b")]])
    assert [p.id for p in passages] == ["a", "b"] and scores == pytest.approx([rrf(1), rrf(2)])  # b moves up
    assert [p.id for p in dedupe([P("x"), P("y"), P("x")])] == ["x", "y"]


def test_rrf_k_and_weight_count_are_checked():
    assert reciprocal_rank_fusion([[P("a")]], rrf_k=0)[1] == [1.0]
    with pytest.raises(ValueError, match="2 weights for 1 result lists"):
        reciprocal_rank_fusion([[P("a")]], weights=[1, 2])
    assert reciprocal_rank_fusion([]) == ([], [])
