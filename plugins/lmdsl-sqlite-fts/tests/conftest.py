"""Fixtures: a private lmdsl cache dir per test and a small corpus with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fts_data import CORPUS


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(path))
    return path


@pytest.fixture
def write_corpus(tmp_path: Path):
    def write(rows: list[dict] = CORPUS, name: str = "corpus.jsonl") -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path

    return write


@pytest.fixture
def corpus_file(write_corpus) -> Path:
    return write_corpus()
