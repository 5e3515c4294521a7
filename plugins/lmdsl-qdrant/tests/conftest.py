"""Fixtures: a private lmdsl cache dir per test and a small corpus file."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_data import CORPUS, write_jsonl


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(path))
    return path


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
