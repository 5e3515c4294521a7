"""Fixtures for the retriever tests: a private cache dir and a small corpus with known answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from retriever_data import SMALL_CORPUS, write_jsonl


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own LMDSL_CACHE_DIR so that no test sees another's indexes."""
    path = tmp_path / "cache"
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(path))
    return path


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "corpus.jsonl", SMALL_CORPUS)
