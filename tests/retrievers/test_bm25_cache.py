"""The on-disk BM25 index: reused, invalidated on change, never trusted when damaged."""

from __future__ import annotations

import json
import os
import time

import pytest
from retriever_data import SMALL_CORPUS, write_jsonl

from lmdsl.retrievers import BM25Retriever, index_store


@pytest.fixture
def builds(monkeypatch) -> list[int]:
    """Counts index builds (one entry per build)."""
    calls: list[int] = []
    original = BM25Retriever._build

    def counting(self, passages):
        calls.append(len(passages))
        return original(self, passages)

    monkeypatch.setattr(BM25Retriever, "_build", counting)
    return calls


def test_index_is_saved_under_the_cache_dir_and_reused(corpus_file, cache_dir, builds):
    first = BM25Retriever(corpus_file)
    assert first.index_status == "built" and builds == [8]
    assert first.index_path is not None and first.index_path.parent == cache_dir / "bm25"
    assert (first.index_path / "meta.json").is_file()
    second = BM25Retriever(corpus_file)
    assert second.index_status == "loaded" and builds == [8]  # no second build
    assert second.index_path == first.index_path
    queries = ["capital of Germany", "python", "snakes"]
    assert second.batch(queries) == first.batch(queries)
    assert second.passages == first.passages


def test_explicit_index_dir(corpus_file, tmp_path, cache_dir):
    r = BM25Retriever(corpus_file, index_dir=tmp_path / "my-index")
    assert r.index_path is not None and r.index_path.parent == tmp_path / "my-index"
    assert not (cache_dir / "bm25").exists()
    assert BM25Retriever(corpus_file, index_dir=tmp_path / "my-index").index_status == "loaded"


def test_changed_corpus_is_reindexed_and_old_index_dropped(corpus_file, builds):
    old = BM25Retriever(corpus_file)
    assert old("Danube") == []
    os.utime(corpus_file)  # a touch alone changes nothing
    assert BM25Retriever(corpus_file).index_status == "loaded"
    write_jsonl(
        corpus_file, [*SMALL_CORPUS, {"id": "danube", "text": "The Danube flows into the Black Sea."}]
    )
    new = BM25Retriever(corpus_file)
    assert new.index_status == "built" and len(builds) == 2
    assert new.index_path != old.index_path
    assert new("Danube")[0].id == "danube"
    assert old.index_path is not None and not old.index_path.exists()  # stale version pruned


def test_other_options_keep_their_own_index(corpus_file, builds):
    a = BM25Retriever(corpus_file)
    b = BM25Retriever(corpus_file, stemmer=None)
    assert a.index_path != b.index_path and a.index_path.exists() and b.index_path.exists()
    assert BM25Retriever(corpus_file).index_status == "loaded"
    assert BM25Retriever(corpus_file, stemmer=None).index_status == "loaded"
    assert len(builds) == 2


def _corrupt_truncate(path):
    data = path / "data.csc.index.npy"
    data.write_bytes(data.read_bytes()[:50])


def _corrupt_flip(path):
    passages = path / "passages.jsonl"
    raw = bytearray(passages.read_bytes())
    raw[10] ^= 0x20
    passages.write_bytes(bytes(raw))


def _corrupt_meta(path):
    (path / "meta.json").write_text("{not json", encoding="utf-8")


def _corrupt_missing_file(path):
    (path / "vocab.index.json").unlink()


def _corrupt_empty_dir(path):
    for entry in path.iterdir():
        entry.unlink()


def _corrupt_consistent_garbage(path):
    # rewrite a file *and* its checksum: the structural checks must still catch it
    meta = json.loads((path / "meta.json").read_text())
    (path / "passages.jsonl").write_text('["x", "", "only one"]\n', encoding="utf-8")
    meta["files"]["passages.jsonl"] = index_store.sha256_file(path / "passages.jsonl")
    (path / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "corrupt",
    [
        _corrupt_truncate,
        _corrupt_flip,
        _corrupt_meta,
        _corrupt_missing_file,
        _corrupt_empty_dir,
        _corrupt_consistent_garbage,
    ],
)
def test_damaged_index_is_rebuilt(corpus_file, builds, corrupt, caplog):
    first = BM25Retriever(corpus_file)
    expected = first("capital of Germany", k=5)
    corrupt(first.index_path)
    again = BM25Retriever(corpus_file)
    assert again.index_status == "rebuilt" and len(builds) == 2
    assert again("capital of Germany", k=5) == expected
    assert "damaged" in caplog.text
    assert BM25Retriever(corpus_file).index_status == "loaded"  # and the repaired index is good


def test_interrupted_build_leaves_nothing_behind(corpus_file, cache_dir, monkeypatch):
    def killed(path):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(index_store, "sha256_file", killed)
        with pytest.raises(KeyboardInterrupt):
            BM25Retriever(corpus_file)
    assert list((cache_dir / "bm25").iterdir()) == []  # no half-written index, no temp dir
    assert BM25Retriever(corpus_file).index_status == "built"


def test_stale_temp_dirs_of_killed_builds_are_swept(corpus_file, cache_dir):
    root = cache_dir / "bm25"
    old, recent = root / ".tmp-abc-old", root / ".tmp-abc-recent"
    for d in (old, recent):
        d.mkdir(parents=True)
        (d / "data.csc.index.npy").write_bytes(b"partial")
    long_ago = time.time() - 2 * 3600
    os.utime(old, (long_ago, long_ago))
    BM25Retriever(corpus_file)
    assert not old.exists()
    assert recent.exists()  # might be another process's build in progress


def test_unwritable_cache_falls_back_to_memory(corpus_file, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(blocker))
    r = BM25Retriever(corpus_file)
    assert r.index_status == "memory"
    assert r("capital of Germany")[0].id == "berlin"
    assert "could not save the BM25 index" in caplog.text


def test_concurrent_builds_of_the_same_index(corpus_file, builds):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        retrievers = list(pool.map(lambda _: BM25Retriever(corpus_file), range(4)))
    assert {r.index_status for r in retrievers} <= {"built", "loaded"}
    assert all(r("capital of Germany")[0].id == "berlin" for r in retrievers)
    assert BM25Retriever(corpus_file).index_status == "loaded"
    leftovers = [p.name for p in retrievers[0].index_path.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_index_path_taken_by_a_file_is_replaced(corpus_file):
    first = BM25Retriever(corpus_file)
    path = first.index_path
    for entry in path.iterdir():
        entry.unlink()
    path.rmdir()
    path.write_text("junk")
    again = BM25Retriever(corpus_file)
    assert again.index_status == "rebuilt" and path.is_dir()
