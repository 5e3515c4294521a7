"""SqliteFTSRetriever: ranking, safe queries, caching, repair, threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fts_data import CORPUS
from lmdsl.errors import ConfigError, DataError
from lmdsl.retrievers import Passage, Retriever

from lmdsl_sqlite_fts import SqliteFTSRetriever
from lmdsl_sqlite_fts import retriever as fts_module


@pytest.fixture
def builds(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = SqliteFTSRetriever._build

    def counting(self, passages):
        calls.append(len(passages))
        return original(self, passages)

    monkeypatch.setattr(SqliteFTSRetriever, "_build", counting)
    return calls


@pytest.mark.parametrize(
    ("query", "top"),
    [
        ("What is the capital of Germany?", "berlin"),
        ("who created the python programming language", "python"),
        ("wrought iron lattice tower", "eiffel"),
        ("British comedy group sketch show", "monty"),
        ("nonvenomous snake", "pythonidae"),  # porter stemming: snake ~ snakes
    ],
)
def test_known_top_hit(corpus_file, query, top):
    hits = SqliteFTSRetriever(corpus_file)(query)
    assert hits[0].id == top
    assert len(hits) <= 3


def test_results_are_lmdsl_passages_sorted_by_score(corpus_file):
    r = SqliteFTSRetriever(corpus_file)
    assert isinstance(r, Retriever)
    hits = r("python language", k=10)
    assert all(type(h) is Passage for h in hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    by_id = {row["id"]: row for row in CORPUS}
    for h in hits:
        assert (h.title, h.text) == (by_id[h.id]["title"], by_id[h.id]["text"])
    assert len(r) == len(CORPUS)


def test_k_is_honoured(corpus_file):
    r = SqliteFTSRetriever(corpus_file, k=2)
    query = "capital city France Germany Paris"
    assert len(r(query)) == 2
    assert len(r(query, k=1)) == 1
    assert len(r(query, k=4)) == 4
    assert r(query, k=0) == []
    assert {h.id for h in r("capital", k=50)} == {"paris", "berlin"}
    with pytest.raises(ConfigError, match="k must be a non-negative integer"):
        r(query, k=-1)


def test_title_weight_favours_the_passage_about_the_query(write_corpus):
    path = write_corpus(
        [
            {"id": "titled", "title": "Jaguar", "text": "The jaguar is a large cat of the Americas."},
            {"id": "body", "title": "Wildlife of Belize", "text": "The jaguar is a big cat."},
        ]
    )
    assert [h.id for h in SqliteFTSRetriever(path, title_weight=0)("jaguar")] == ["body", "titled"]
    assert [h.id for h in SqliteFTSRetriever(path)("jaguar")] == ["titled", "body"]


@pytest.mark.parametrize(
    "query",
    [
        'the "unbalanced quote',
        "AND OR NOT",
        "NEAR(paris france)",
        "title:paris",
        "capital*",
        "^paris",
        "(((",
        "-rome +paris",
        "paris AND",
        "{title text}: paris",
        "it's O'Brien's",
        "",
        "?!.,;",
        "the of and",
    ],
)
def test_fts_syntax_in_queries_never_errors(corpus_file, query):
    hits = SqliteFTSRetriever(corpus_file)(query)
    assert isinstance(hits, list)
    if "paris" in query.lower():
        assert hits[0].id == "paris"


def test_fts_query_quotes_every_word():
    assert fts_module.fts_query('The "NEAR" capital* of paris') == '"near" OR "capital" OR "paris"'
    assert fts_module.fts_query("of the") == ""


def test_batch(corpus_file):
    r = SqliteFTSRetriever(corpus_file)
    queries = ["capital of France", "snakes", "zzz"]
    assert r.batch(queries, k=2) == [r(q, k=2) for q in queries]
    with pytest.raises(TypeError):
        r.batch("capital")  # type: ignore[arg-type]


def test_index_is_reused(corpus_file, cache_dir, builds):
    first = SqliteFTSRetriever(corpus_file)
    assert first.index_status == "built" and builds == [len(CORPUS)]
    assert first.db_path.parent == cache_dir / "sqlite-fts" and first.db_path.is_file()
    second = SqliteFTSRetriever(corpus_file)
    assert second.index_status == "loaded" and len(builds) == 1
    assert second("capital of Germany") == first("capital of Germany")


def test_explicit_db_next_to_the_corpus_is_rebuilt_when_the_corpus_changes(corpus_file, write_corpus, builds):
    db = corpus_file.with_suffix(".sqlite3")
    first = SqliteFTSRetriever(corpus_file, db=db)
    assert first.db_path == db and first.index_status == "built"
    assert SqliteFTSRetriever(corpus_file, db=db).index_status == "loaded"
    write_corpus([*CORPUS, {"id": "danube", "text": "The Danube flows into the Black Sea."}])
    again = SqliteFTSRetriever(corpus_file, db=db)
    assert again.index_status == "built" and len(builds) == 2
    assert again("Danube")[0].id == "danube"
    assert first("Danube") == []  # an open retriever keeps reading the index it opened
    assert sorted(p.name for p in db.parent.iterdir()) == [
        "corpus.jsonl",
        "corpus.sqlite3",
    ]  # no temp files left


def test_default_db_follows_the_corpus_content(corpus_file, write_corpus):
    first = SqliteFTSRetriever(corpus_file)
    write_corpus([*CORPUS, {"text": "new"}])
    second = SqliteFTSRetriever(corpus_file)
    assert second.db_path != first.db_path and second.index_status == "built"


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b"this is not a database" * 100),
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 3]),
        lambda p: p.write_bytes(b""),
    ],
)
def test_damaged_database_is_rebuilt(corpus_file, builds, damage, caplog):
    first = SqliteFTSRetriever(corpus_file)
    expected = first("capital of Germany")
    first.close()
    damage(first.db_path)
    again = SqliteFTSRetriever(corpus_file)
    assert again.index_status == "rebuilt" and len(builds) == 2
    assert again("capital of Germany") == expected
    assert "damaged" in caplog.text


def test_interrupted_build_leaves_nothing_behind(corpus_file, cache_dir, monkeypatch):
    real_connect = fts_module.sqlite3.connect

    class Exploding:
        def __init__(self, conn):
            self._conn = conn

        def executemany(self, *args):
            raise KeyboardInterrupt

        def __getattr__(self, name):
            return getattr(self._conn, name)

        def __enter__(self):
            return self._conn.__enter__()

        def __exit__(self, *exc):
            return self._conn.__exit__(*exc)

    with monkeypatch.context() as m:
        m.setattr(fts_module.sqlite3, "connect", lambda *a, **kw: Exploding(real_connect(*a, **kw)))
        with pytest.raises(KeyboardInterrupt):
            SqliteFTSRetriever(corpus_file)
    assert list((cache_dir / "sqlite-fts").iterdir()) == []
    assert SqliteFTSRetriever(corpus_file).index_status == "built"


def test_bad_corpus_uses_lmdsl_errors(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"title": "no text"}\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        SqliteFTSRetriever(path)
    assert str(info.value) == f"{path} line 2: missing text field 'text' (found keys: 'title')"
    with pytest.raises(ConfigError, match="corpus file not found"):
        SqliteFTSRetriever(tmp_path / "missing.jsonl")


def test_list_corpus_and_custom_fields(tmp_path):
    r = SqliteFTSRetriever(
        [{"body": "Oslo is the capital of Norway.", "name": "Oslo"}], text_field="body", title_field="name"
    )
    hit = r("Norway")[0]
    assert (hit.id, hit.title, hit.long_text) == ("0", "Oslo", "Oslo | Oslo is the capital of Norway.")


def test_bad_tokenizer_is_a_config_error(corpus_file):
    with pytest.raises(ConfigError, match="invalid FTS5 tokenizer"):
        SqliteFTSRetriever(corpus_file, tokenizer="no_such_tokenizer")


def test_concurrent_queries(corpus_file):
    r = SqliteFTSRetriever(corpus_file)
    queries = ["capital of Germany", "python language", "snakes", "tower in Paris", "comedy"]
    expected = {q: r(q) for q in queries}
    barrier = threading.Barrier(6)

    def worker(i: int) -> bool:
        barrier.wait()
        return all(
            r(queries[(i + j) % len(queries)]) == expected[queries[(i + j) % len(queries)]] for j in range(50)
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert all(pool.map(worker, range(6)))
    r.close()


def test_unwritable_db_location_is_a_config_error(corpus_file, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"cannot write the FTS index to .*pass db= a writable path"):
        SqliteFTSRetriever(corpus_file, db=blocker / "index.sqlite3")
    directory = tmp_path / "a-directory"
    directory.mkdir()
    with pytest.raises(ConfigError, match="cannot write the FTS index"):
        SqliteFTSRetriever(corpus_file, db=directory)


def test_copies_share_the_retriever(corpus_file):
    import copy

    r = SqliteFTSRetriever(corpus_file)
    assert copy.deepcopy({"r": r})["r"] is r
    assert copy.copy(r) is r
