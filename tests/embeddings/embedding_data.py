"""Shared test data: a deterministic bag-of-words embedder and a corpus whose nearest
neighbours are known by meaning only (no query shares a word with its passage)."""

from __future__ import annotations

import re
import zlib

import numpy as np

#: passage key -> text; each MEANING_QUERIES entry names the passage it means.
MEANING_CORPUS = {
    "cat": "A feline dozed all afternoon upon the sofa.",
    "stocks": "Equities tumbled as panicked investors sold shares.",
    "doctor": "The physician prescribed antibiotics for the infection.",
    "flood": "Torrential rainfall submerged the valley's farmland.",
    "chef": "A cook seasoned the soup with basil and garlic.",
}
MEANING_QUERIES = {
    "kitty napping on a couch": "cat",
    "market crash wipes out traders": "stocks",
    "medic gives pills to sick patient": "doctor",
    "storm water inundates fields": "flood",
    "kitchen recipe flavoring broth": "chef",
}


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


class HashingEmbedder:
    """Counts of hashed words: texts sharing words get similar vectors (no model needed)."""

    def __init__(self, dimension: int = 32, name: str = "test/hashing"):
        self.dimension = dimension
        self.id = f"{name}-{dimension}"
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in re.findall(r"[a-z0-9]+", text.lower()):
                out[i, zlib.crc32(w.encode()) % self.dimension] += 1.0
            out[i, 0] += 0.01  # never an all-zero vector
        return out
