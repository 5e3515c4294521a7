"""Test data for the qdrant plugin: a small corpus and a deterministic embedder (no model)."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import numpy as np

CORPUS = [
    {"id": "paris", "title": "Paris", "text": "Paris is the capital and most populous city of France."},
    {"id": "berlin", "title": "Berlin", "text": "Berlin is the capital and largest city of Germany."},
    {"id": "python", "title": "Python (programming language)",
     "text": "Python is a general-purpose programming language created by Guido van Rossum."},
    {"id": "rhine", "title": "Rhine", "text": "The Rhine flows through Switzerland, Germany and the Netherlands."},
    {"id": "eiffel", "title": "Eiffel Tower", "text": "The Eiffel Tower is a wrought-iron lattice tower in Paris."},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


STOPWORDS = frozenset(["a", "an", "and", "the", "of", "is", "in", "by", "to", "through"])


class HashingEmbedder:
    """Counts of hashed content words (texts sharing words are close); records every call."""

    def __init__(self, dimension: int = 256, name: str = "test/hashing"):
        self.dimension = dimension
        self.id = f"{name}-{dimension}"
        self.calls: list[list[str]] = []
        self.fail_after: int | None = None

    def embed(self, texts):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("embedding service went away")
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in set(re.findall(r"[a-z0-9]+", text.lower())) - STOPWORDS:
                out[i, zlib.crc32(w.encode()) % self.dimension] += 1.0
            out[i, 0] += 0.01
        return out

    @property
    def texts_embedded(self) -> int:
        return sum(len(c) for c in self.calls)
