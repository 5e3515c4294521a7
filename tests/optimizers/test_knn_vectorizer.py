"""KNNFewShot(vectorizer=...): neighbours by embedding similarity, found without shared words."""

from __future__ import annotations

import re

import numpy as np
import pytest
from tp_programs import QAProgram, demo_inputs

import lmdsl
from lmdsl import Example
from lmdsl.embeddings import Embedder
from lmdsl.optimizers import KNNFewShot

TOPICS = [
    ("the cat sat on the mat", "animal"),
    ("a dog chased the cat", "animal"),
    ("stocks fell on wall street", "finance"),
    ("the bank raised interest rates", "finance"),
    ("the team won the football match", "sport"),
    ("a striker scored a late goal", "sport"),
]
TRAIN = [Example(question=q, answer=a).with_inputs("question") for q, a in TOPICS]

# A stand-in for a model that knows synonyms: each word votes for a topic axis.
AXES = {
    0: "cat dog mat chased kitten puppy feline",
    1: "stocks wall street bank interest rates equities lender",
    2: "team football match striker goal soccer keeper",
}
WORD_AXIS = {w: axis for axis, ws in AXES.items() for w in ws.split()}


def concept_vectors(texts):
    out = np.full((len(texts), 4), 0.0, dtype=np.float32)
    for i, text in enumerate(texts):
        for w in re.findall(r"[a-z]+", text.lower()):
            out[i, WORD_AXIS.get(w, 3)] += 1.0
    return out


@pytest.fixture(autouse=True)
def _no_progress():
    lmdsl.configure(display_progress=False)


def test_vectorizer_finds_neighbours_that_share_no_word(scripted):
    lm = scripted(lambda inputs: {"answer": "x"})
    knn = KNNFewShot(k=2, trainset=TRAIN, vectorizer=Embedder(concept_vectors, name="concepts"))
    compiled = knn.compile(QAProgram())
    compiled(question="kitten versus puppy")
    assert sorted(demo_inputs(lm.requests[-1])) == ["Question: a dog chased the cat",
                                                     "Question: the cat sat on the mat"]
    assert set(compiled.neighbours(question="equities and the lender")) == {2, 3}
    # without a vectorizer (BM25) the same question has no neighbour at all
    bm25 = KNNFewShot(k=2, trainset=TRAIN).compile(QAProgram())
    assert bm25.neighbours(question="kitten versus puppy") == []


def test_vectorizer_accepts_any_object_with_embed(scripted):
    scripted(lambda inputs: {"answer": "x"})

    class Concepts:
        id = "concepts"

        def embed(self, texts):
            return concept_vectors(texts)

    compiled = KNNFewShot(k=1, trainset=TRAIN, vectorizer=Concepts()).compile(QAProgram())
    assert compiled.neighbours(question="soccer keeper") in ([4], [5])
