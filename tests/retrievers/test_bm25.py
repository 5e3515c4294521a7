"""Ranking, k, stemming, title weighting, batching and thread safety of BM25Retriever."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from retriever_data import SMALL_CORPUS, write_jsonl

from lmdsl.errors import ConfigError
from lmdsl.retrievers import BM25Retriever, Passage, Retriever, analysis
from lmdsl.retrievers import bm25 as bm25_module


@pytest.fixture
def retriever(corpus_file) -> BM25Retriever:
    return BM25Retriever(corpus_file)


@pytest.mark.parametrize(
    ("query", "top"),
    [
        ("What is the capital of Germany?", "berlin"),
        ("who created the python programming language", "python"),
        ("wrought iron lattice tower", "eiffel"),
        ("British comedy group sketch show", "monty"),
        ("river flowing through the Netherlands", "rhine"),
        ("nonvenomous snake", "pythonidae"),  # "snake" matches "snakes" through the stemmer
        ("Guido van Rossum", "guido"),
    ],
)
def test_known_top_hit(retriever, query, top):
    hits = retriever(query)
    assert hits[0].id == top
    assert len(hits) <= 3


def test_results_are_passages_sorted_by_score(retriever):
    hits = retriever("python language", k=8)
    assert all(isinstance(h, Passage) for h in hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(s > 0 for s in scores)
    assert {h.id for h in hits} >= {"python", "monty", "guido", "pythonidae"}
    by_id = {r["id"]: r for r in SMALL_CORPUS}
    for h in hits:
        assert (h.text, h.title) == (by_id[h.id]["text"], by_id[h.id]["title"])


def test_k_is_honoured(corpus_file):
    r = BM25Retriever(corpus_file, k=2)
    assert len(r("capital city France Germany Paris")) == 2
    assert len(r("capital city France Germany Paris", k=1)) == 1
    assert len(r("capital city France Germany Paris", k=3)) == 3
    assert r("capital", k=0) == []
    # more than the corpus holds: every matching passage, and only those
    assert {h.id for h in r("capital", k=100)} == {"paris", "berlin"}
    assert len(r("capital city France Germany Paris", k="3")) == 3  # options may arrive as strings (CLI)
    for bad in (-1, 1.5, "many", True):
        with pytest.raises(ConfigError, match="k must be a non-negative integer"):
            r("capital", k=bad)
    with pytest.raises(ConfigError):
        BM25Retriever(corpus_file, k=-2)


def test_no_match_returns_nothing(retriever):
    assert retriever("zzyzx qwertyuiop") == []
    assert retriever("") == []
    assert retriever("the of and") == []  # only stopwords


def test_stemming_can_be_disabled(corpus_file):
    plain = BM25Retriever(corpus_file, stemmer=None)
    stemmed = BM25Retriever(corpus_file)
    assert plain("snake") == []
    assert stemmed("snake")[0].id == "pythonidae"
    assert plain.key != stemmed.key  # different options never share an index
    assert BM25Retriever(corpus_file, stemmer=False).key == plain.key
    assert BM25Retriever(corpus_file, stemmer=True).key == BM25Retriever(corpus_file, stemmer="english").key
    with pytest.raises(ConfigError, match="unknown stemmer language 'klingon'"):
        BM25Retriever(corpus_file, stemmer="klingon")


def test_title_weight(tmp_path):
    rows = [
        {"id": "titled", "title": "Jaguar", "text": "The jaguar is a large cat of the Americas."},
        {"id": "body", "title": "Wildlife of Belize", "text": "The jaguar is a big cat."},
        {"id": "other", "title": "Ocelot", "text": "The ocelot is a small wild cat."},
    ]
    path = write_jsonl(tmp_path / "cats.jsonl", rows)
    # without titles the shorter body wins on length normalisation ...
    assert [h.id for h in BM25Retriever(path, title_weight=0)("jaguar")] == ["body", "titled"]
    # ... with titles indexed (the default) the passage *about* jaguars wins
    assert [h.id for h in BM25Retriever(path)("jaguar")] == ["titled", "body"]
    # a title alone makes a passage findable
    assert [h.id for h in BM25Retriever(path)("Belize wildlife")] == ["body"]
    assert BM25Retriever(path, title_weight=0)("Belize wildlife") == []
    with pytest.raises(ConfigError, match="title_weight"):
        BM25Retriever(path, title_weight=-1)


def test_batch_matches_single_queries(retriever):
    queries = ["capital of France", "python", "zzz", "Rhine Germany", "comedy"] * 3
    assert retriever.batch(queries, k=4) == [retriever(q, k=4) for q in queries]
    assert retriever.batch([]) == []
    with pytest.raises(TypeError, match="list of queries"):
        retriever.batch("capital")  # type: ignore[arg-type]


def test_batch_is_chunked_without_changing_results(retriever, monkeypatch):
    queries = ["capital of France", "python snakes", "tower"] * 4
    expected = retriever.batch(queries, k=3)
    monkeypatch.setattr(bm25_module, "_MAX_CELLS", len(SMALL_CORPUS) * 2)  # two queries per chunk
    assert retriever.batch(queries, k=3) == expected


def test_scores_equal_bm25s_own_scoring(retriever):
    ids = retriever._query_ids("python programming language created Paris")
    ours = retriever._scores([ids])[0]
    theirs = retriever._model.get_scores_from_ids(ids)
    assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-6)


def test_in_memory_corpus(tmp_path):
    r = BM25Retriever(SMALL_CORPUS)
    assert r.index_status == "memory" and r.index_path is None
    assert r("capital of Germany")[0].id == "berlin"
    saved = BM25Retriever(SMALL_CORPUS, index_dir=tmp_path / "idx")
    assert saved.index_status == "built"
    assert BM25Retriever(SMALL_CORPUS, index_dir=tmp_path / "idx").index_status == "loaded"


def test_is_a_retriever(retriever):
    assert isinstance(retriever, Retriever)
    assert len(retriever) == len(SMALL_CORPUS)
    assert "passages=8" in repr(retriever)


def test_concurrent_queries_are_consistent(corpus_file, monkeypatch):
    monkeypatch.setattr(analysis, "STEM_CACHE_MAX", 5)  # make the stem cache churn
    r = BM25Retriever(corpus_file)
    queries = [
        "capital of Germany",
        "python programming languages",
        "snakes in Australia",
        "comedies and sketches",
        "towers in Paris",
        "rivers flowing",
    ]
    expected = {q: r(q, k=3) for q in queries}
    start = threading.Barrier(8)

    def worker(i: int) -> bool:
        start.wait()
        ok = True
        for j in range(60):
            q = queries[(i + j) % len(queries)]
            ok &= r(q, k=3) == expected[q]
            ok &= r.batch([q, queries[0]], k=3) == [expected[q], expected[queries[0]]]
        return ok

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(worker, range(8)))


def test_import_is_lazy():
    code = "import sys, lmdsl.retrievers; print(sorted(m for m in ('bm25s', 'snowballstemmer') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_passages_without_indexable_words(tmp_path):
    rows = [
        {"text": "?!"},
        {"text": "the of and"},
        {"text": "Oslo is the capital of Norway.", "title": "Oslo"},
    ]
    r = BM25Retriever(write_jsonl(tmp_path / "sparse.jsonl", rows))
    assert [h.id for h in r("capital of Norway", k=3)] == ["3"]
    assert r("?!") == []


def test_copies_share_the_retriever(retriever):
    import copy

    program = {"retrieve": retriever, "demos": [1, 2]}
    clone = copy.deepcopy(program)
    assert clone["retrieve"] is retriever and clone["demos"] is not program["demos"]
    assert copy.copy(retriever) is retriever
