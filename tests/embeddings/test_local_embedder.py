"""The offline embedder for real (all-MiniLM-L6-v2 from its pip package, on CPU torch)."""

from __future__ import annotations

import pytest
from embedding_data import MEANING_CORPUS, MEANING_QUERIES, words

from lmdsl.embeddings import DenseIndex, Embedder
from lmdsl.retrievers import BM25Retriever

pytestmark = pytest.mark.integration

STOP = {"a", "the", "on", "to", "as", "for", "and", "with", "all", "upon", "out", "s"}


@pytest.fixture(scope="module")
def embedder():
    pytest.importorskip("sentence_transformers", reason="the embeddings extra is not installed")
    return Embedder("local/all-minilm-l6-v2")


def test_queries_share_no_word_with_their_passage():
    for query, key in MEANING_QUERIES.items():
        assert not (words(query) & words(MEANING_CORPUS[key])) - STOP, query


def test_nearest_neighbour_by_meaning(embedder):
    keys = list(MEANING_CORPUS)
    index = DenseIndex(embedder, list(MEANING_CORPUS.values()))
    found = {q: keys[int(index(q, 1)[0].id)] for q in MEANING_QUERIES}
    assert found == MEANING_QUERIES
    # BM25 has no word to go on for the same queries
    bm25 = BM25Retriever([{"id": k, "text": t} for k, t in MEANING_CORPUS.items()])
    assert sum(bool(bm25(q, 1)) and bm25(q, 1)[0].id == key for q, key in MEANING_QUERIES.items()) < 2


def test_vectors_are_unit_length_and_deterministic(embedder):
    import numpy as np

    a = embedder.embed(["A feline dozed.", "Equities tumbled."])
    b = embedder.embed(["A feline dozed."])
    assert a.shape == (2, 384) and embedder.dimension == 384
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a[0], b[0], atol=1e-5)
    assert embedder.cache is False and embedder.id == "local/all-minilm-l6-v2"
