"""The hybrid retriever: fused order, weights, depth, building its parts by name, and errors."""

from __future__ import annotations

import types

import pytest
from retriever_data import SMALL_CORPUS

import lmdsl
from lmdsl import hookimpl
from lmdsl.errors import ConfigError
from lmdsl.retrievers import Passage
from lmdsl.retrievers.fusion import RRF_K
from lmdsl.retrievers.hybrid import HybridRetriever


def P(pid: str, score: float = 0.0) -> Passage:
    return Passage(text=f"text of {pid}", title=pid, id=pid, score=score)


class Fixed:
    """A retriever with one answer list for every query; records the k it was asked for."""

    def __init__(self, *ids: str):
        self.hits = [P(i, 10.0 - n) for n, i in enumerate(ids)]
        self.ks: list[int] = []

    def __call__(self, query: str, k: int) -> list[Passage]:
        self.ks.append(k)
        return self.hits[:k]


def rrf(*ranks: int, weight: float = 1.0) -> float:
    return sum(weight / (RRF_K + r) for r in ranks)


def test_fusion_order_and_scores():
    lexical, dense = Fixed("a", "b", "c"), Fixed("c", "d", "a")
    hybrid = HybridRetriever(retrievers=[lexical, dense], k=3)
    hits = hybrid("anything")
    # a: ranks 1 and 3; c: ranks 3 and 1 (tie, a has the earlier list); then b and d at rank 2 alone
    assert [p.id for p in hits] == ["a", "c", "b"]
    assert [p.score for p in hits] == pytest.approx([rrf(1, 3), rrf(3, 1), rrf(2)])
    assert lexical.ks == [20] and dense.ks == [20]  # each part is asked for `depth` passages


def test_weights_change_the_order_and_zero_leaves_a_part_out():
    lexical, dense = Fixed("a", "b", "c"), Fixed("c", "d", "a")
    weighted = HybridRetriever(retrievers=[lexical, dense], weights=[1, 3])("q", 3)
    assert [p.id for p in weighted] == ["c", "a", "d"]  # unweighted: a, c, b
    assert weighted[2].score == pytest.approx(rrf(2, weight=3))
    only_dense = HybridRetriever(retrievers=[lexical, dense], weights=[0, 1])
    assert [p.id for p in only_dense("q", 3)] == ["c", "d", "a"]
    assert lexical.ks == [20]  # the weight-0 part was not queried the second time


def test_batch_equals_single_calls_and_k_cuts():
    hybrid = HybridRetriever(retrievers=[Fixed("a", "b"), Fixed("b", "c")], k=1, depth=5)
    assert hybrid.batch(["x", "y"], 2) == [hybrid("x", 2), hybrid("y", 2)]
    assert [p.id for p in hybrid("x")] == ["b"]
    assert hybrid("x", 0) == []
    with pytest.raises(TypeError, match="list of queries"):
        hybrid.batch("x")


def test_parts_built_by_name_with_the_corpus(corpus_file):
    made = {}

    def dense_factory(corpus, k=3, embedder=None):
        made.update(corpus=corpus, k=k, embedder=embedder)
        return Fixed("berlin", "paris")

    plugin = types.SimpleNamespace(lmdsl_register_retrievers=hookimpl(lambda register: register("fake-dense", dense_factory)))
    lmdsl.plugin_manager().add(plugin, name="fake-dense-plugin")
    hybrid = lmdsl.get_retriever("hybrid", corpus=str(corpus_file), retrievers=["bm25", "fake-dense"],
                                 embedder="some/model", k=2, options={"bm25": {"stemmer": None}})
    assert made == {"corpus": str(corpus_file), "k": 20, "embedder": "some/model"}
    assert hybrid.names == ["bm25", "fake-dense"]
    assert hybrid.retrievers[0].k == 20
    hits = hybrid("capital of France")
    assert [p.id for p in hits] == ["paris", "berlin"]  # bm25 ranks paris first, the dense part ranks it second
    assert hybrid.index_status == "bm25=built, fake-dense=memory"


def test_list_corpus_is_shared_by_every_part():
    hybrid = HybridRetriever(SMALL_CORPUS, retrievers=["bm25", "bm25"], weights=[1, 1])
    assert hybrid("Dutch programmer", 1)[0].id == "guido"


def test_missing_dense_plugin_names_the_install():
    with pytest.raises(ConfigError, match=r"unknown retriever 'qdrant'.*pip install lmdsl-qdrant"):
        HybridRetriever(SMALL_CORPUS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retrievers": []}, "non-empty list"),
        ({"retrievers": "bm25"}, "non-empty list"),
        ({"retrievers": ["bm25"], "weights": [1, 2]}, "1 numbers, one per retriever"),
        ({"retrievers": ["bm25"], "weights": [-1]}, "non-negative"),
        ({"retrievers": ["bm25"], "weights": [0]}, "at least one"),
        ({"retrievers": ["bm25"], "k": -1}, "k must be"),
        ({"retrievers": ["bm25"], "depth": 0}, "depth must be"),
        ({"retrievers": ["bm25"], "options": {"qdrant": {}}}, "not among the retrievers"),
        ({"retrievers": [42]}, "registered name or callable"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        HybridRetriever(SMALL_CORPUS, **kwargs)
