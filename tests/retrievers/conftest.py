"""Fixtures for the retriever tests: a private cache dir and a small corpus with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SMALL_CORPUS = [
    {"id": "paris", "title": "Paris", "text": "Paris is the capital and most populous city of France."},
    {"id": "berlin", "title": "Berlin", "text": "Berlin is the capital and largest city of Germany."},
    {
        "id": "python",
        "title": "Python (programming language)",
        "text": "Python is a high-level, general-purpose programming language created by Guido van Rossum.",
    },
    {
        "id": "monty",
        "title": "Monty Python",
        "text": "Monty Python were a British surreal comedy group who created the sketch show Flying Circus.",
    },
    {
        "id": "eiffel",
        "title": "Eiffel Tower",
        "text": "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
    },
    {
        "id": "rhine",
        "title": "Rhine",
        "text": "The Rhine flows through Switzerland, Germany and the Netherlands.",
    },
    {
        "id": "pythonidae",
        "title": "Pythonidae",
        "text": "Pythons are nonvenomous snakes found in Africa, Asia and Australia.",
    },
    {
        "id": "guido",
        "title": "Guido van Rossum",
        "text": "A Dutch programmer, best known as the author of a popular language.",
    },
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own LMDSL_CACHE_DIR so that no test sees another's indexes."""
    path = tmp_path / "cache"
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(path))
    return path


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "corpus.jsonl", SMALL_CORPUS)
