"""QdrantRetriever in embedded local mode: build, reopen, rebuild on corpus change, refusals
(another embedder's dimension or model, a foreign collection), interrupted builds, threads."""

from __future__ import annotations

import gc
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from lmdsl.errors import ConfigError
from qdrant_data import CORPUS, HashingEmbedder, write_jsonl

from lmdsl_qdrant import QdrantRetriever, clients


def make(corpus, embedder=None, **options) -> QdrantRetriever:
    options.setdefault("progress", False)
    return QdrantRetriever(corpus, embedder=embedder or HashingEmbedder(), **options)


def test_build_then_reopen_from_disk_without_embedding_the_corpus(corpus_file, cache_dir):
    embedder = HashingEmbedder()
    first = make(corpus_file, embedder, k=2)
    assert first.index_status == "built" and len(first) == len(CORPUS)
    assert embedder.texts_embedded == len(CORPUS)
    hits = first("capital of Germany")
    assert hits[0].id == "berlin" and len(hits) == 2
    assert hits[0].title == "Berlin" and hits[0].text.startswith("Berlin is") and hits[0].score > hits[1].score
    assert str(cache_dir) in first.location
    first.close()

    again_embedder = HashingEmbedder()
    again = make(corpus_file, again_embedder, k=2)
    assert again.index_status == "loaded" and len(again) == len(CORPUS)
    assert again_embedder.calls == []  # nothing embedded to open it
    reloaded = again("capital of Germany")
    assert [p.id for p in reloaded] == [p.id for p in hits]
    assert [p.score for p in reloaded] == pytest.approx([p.score for p in hits], rel=1e-6)  # stored as float32
    again.close()


def test_retrievers_on_one_storage_share_the_client(corpus_file):
    a = make(corpus_file)
    b = make(corpus_file)  # local mode would refuse a second client on the same directory
    assert b.index_status == "loaded" and b.client is a.client
    a.close()
    assert [p.id for p in b("Eiffel Tower", 1)] == ["eiffel"]  # still open for b
    b.close()


def test_edited_corpus_is_rebuilt(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", CORPUS)
    with make(path) as r:
        assert r.index_status == "built"
    write_jsonl(path, [*CORPUS[:2], {"id": "rome", "title": "Rome", "text": "Rome is the capital of Italy."}])
    with make(path, k=1) as r:
        assert r.index_status == "rebuilt" and len(r) == 3
        assert [p.id for p in r("capital of Italy")] == ["rome"]
        assert "eiffel" not in {p.id for p in r("Eiffel Tower lattice", 3)}


def test_another_dimension_is_refused_with_a_clear_error(corpus_file, tmp_path):
    where = {"path": str(tmp_path / "store"), "collection": "shared"}
    with make(corpus_file, HashingEmbedder(64), **where) as r:
        assert r.index_status == "built"
    with pytest.raises(ConfigError) as err:
        make(corpus_file, HashingEmbedder(16), **where)
    message = str(err.value)
    assert "qdrant collection 'shared'" in message and "64-dimensional vectors made by 'test/hashing-64'" in message
    assert "'test/hashing-16' makes 16-dimensional ones" in message and "rebuild=True" in message
    # the stored index is untouched: the first embedder still loads it
    with make(corpus_file, HashingEmbedder(64), **where) as r:
        assert r.index_status == "loaded"
    with make(corpus_file, HashingEmbedder(16), rebuild=True, **where) as r:
        assert r.index_status == "rebuilt" and r.dimension == 16


def test_another_embedder_of_the_same_dimension_is_refused(corpus_file, tmp_path):
    where = {"path": str(tmp_path / "store"), "collection": "shared"}
    make(corpus_file, HashingEmbedder(64, name="model-a"), **where).close()
    with pytest.raises(ConfigError, match="built with the embedder 'model-a-64', not 'model-b-64'"):
        make(corpus_file, HashingEmbedder(64, name="model-b"), **where)


def test_default_collections_are_per_embedder(corpus_file):
    with make(corpus_file, HashingEmbedder(64)) as a, make(corpus_file, HashingEmbedder(16)) as b:
        assert a.collection != b.collection and b.index_status == "built"


def test_interrupted_build_is_detected_and_rebuilt(corpus_file):
    broken = HashingEmbedder()
    broken.fail_after = 1  # the second batch fails
    with pytest.raises(Exception, match="embedding service went away"):
        make(corpus_file, broken, batch_size=2)
    with make(corpus_file, batch_size=2) as r:
        assert r.index_status == "rebuilt" and len(r) == len(CORPUS)


def test_a_refused_open_releases_the_local_store(corpus_file, tmp_path):
    where = {"path": str(tmp_path / "store"), "collection": "shared"}
    make(corpus_file, HashingEmbedder(64), **where).close()
    with pytest.raises(ConfigError):
        make(corpus_file, HashingEmbedder(16), **where)
    assert not [k for k in clients._local if k.startswith(str(tmp_path))]  # nothing left open on it


def test_a_dropped_retriever_releases_its_store_without_taking_the_lock(corpus_file):
    r = make(corpus_file)
    key = r._key
    with clients._lock:  # the garbage collector may run a finalizer while the lock is held
        del r
        gc.collect()
    assert key in clients._local  # queued, not applied inside the collector
    clients.release_local("/nowhere")  # the next call applies queued releases
    assert key not in clients._local


def test_collection_not_built_by_lmdsl_is_refused(corpus_file, tmp_path):
    from qdrant_client import QdrantClient, models

    store = tmp_path / "store"
    client = QdrantClient(path=str(store))
    client.create_collection("theirs", vectors_config=models.VectorParams(size=256, distance=models.Distance.COSINE))
    client.close()
    with pytest.raises(ConfigError, match=r"'theirs' .* was not built by lmdsl"):
        make(corpus_file, path=str(store), collection="theirs")


def test_list_corpus_in_memory_batch_and_k():
    r = make(CORPUS, k=2)
    assert r.index_status == "memory" and r.location == ":memory:"
    queries = ["capital of France", "programming language", "river through Germany"]
    assert r.batch(queries) == [r(q) for q in queries]
    assert [hits[0].id for hits in r.batch(queries)] == ["paris", "python", "rhine"]
    assert r("Paris", 0) == [] and len(r("Paris", 50)) == len(CORPUS)
    with pytest.raises(ConfigError, match="k must be"):
        r("Paris", -1)
    with pytest.raises(TypeError, match="list of queries"):
        r.batch("Paris")
    with pytest.raises(TypeError, match="must be a string"):
        r.batch([3])


def test_without_titles_only_the_text_is_embedded():
    embedder = HashingEmbedder()
    make(CORPUS[:1], embedder, with_titles=False)
    assert embedder.calls == [[CORPUS[0]["text"]]]
    embedder = HashingEmbedder()
    make(CORPUS[:1], embedder)
    assert embedder.calls == [[f"{CORPUS[0]['title']} | {CORPUS[0]['text']}"]]


def test_bad_corpus_rows_name_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "fine"}\n{"id": "b"}\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"bad\.jsonl line 2: missing text field 'text'"):
        make(path)


def test_progress_goes_to_stderr(corpus_file, capsys):
    make(corpus_file, progress=True).close()
    out, err = capsys.readouterr()
    assert out == "" and f"embedding {len(CORPUS)} passages" in err


def test_threads_share_one_retriever(corpus_file):
    with make(corpus_file, k=1) as r:
        expected = {q: r(q) for q in ("capital of France", "capital of Germany", "Eiffel Tower")}

        def ask(q):
            return r(q) == expected[q]

        with ThreadPoolExecutor(4) as pool:
            assert all(pool.map(ask, list(expected) * 8))


def test_storage_held_by_another_process_is_a_clear_error(corpus_file, tmp_path):
    store = tmp_path / "store"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from qdrant_client import QdrantClient; c = QdrantClient(path=sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)", str(store)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(ConfigError, match=r"in use by another process .* url="):
            make(corpus_file, path=str(store))
    finally:
        holder.kill()
        holder.wait()


def test_unreachable_server_is_a_clear_error(corpus_file):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free now, and nothing listens on it
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=f"cannot reach Qdrant at http://127.0.0.1:{port}"):
        make(corpus_file, url=f"http://127.0.0.1:{port}", timeout=2)
    assert time.perf_counter() - started < 30


def test_missing_qdrant_client_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "qdrant_client", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match="needs qdrant-client: pip install lmdsl-qdrant"):
        make(CORPUS)


def test_deep_copy_shares_the_retriever(corpus_file):
    import copy

    with make(corpus_file) as r:
        assert copy.deepcopy(r) is r and "secret" not in repr(r)


@pytest.mark.integration
def test_default_embedder_finds_passages_by_meaning(tmp_path):
    pytest.importorskip("sentence_transformers", reason="the embeddings extra is not installed")
    rows = [
        {"id": "cat", "text": "A feline dozed all afternoon upon the sofa."},
        {"id": "stocks", "text": "Equities tumbled as panicked investors sold shares."},
        {"id": "doctor", "text": "The physician prescribed antibiotics for the infection."},
    ]
    path = write_jsonl(tmp_path / "meaning.jsonl", rows)
    with QdrantRetriever(path, k=1, progress=False) as r:  # the offline all-MiniLM-L6-v2
        assert r.index_status == "built" and r.dimension == 384
        found = [hits[0].id for hits in r.batch(["kitty napping on a couch", "market crash wipes out traders",
                                                 "medic gives pills to sick patient"])]
        assert found == ["cat", "stocks", "doctor"]
    with QdrantRetriever(path, k=1, progress=False) as r:
        assert r.index_status == "loaded"
