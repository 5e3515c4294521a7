"""SqliteFTSRetriever: an FTS5 full-text index in one SQLite file, ranked by FTS5's bm25().

Why SQLite: it ships with Python, so the plugin has no dependency beyond lmdsl; the index
is a single file that many processes can read at once; building it for a few thousand
passages takes tens of milliseconds.

The corpus is read with lmdsl's own loader (same JSONL format, same line-numbered errors
as the built-in BM25 retriever). The database is keyed by the corpus fingerprint and the
options: a changed corpus is re-indexed, into a temporary file that then replaces the old
one atomically, so readers never see a half-built index; a database that cannot be read
is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from lmdsl.errors import ConfigError, UsageTypeError
from lmdsl.retrievers.corpus import cache_dir, fingerprint_file, fingerprint_rows, load_corpus
from lmdsl.retrievers.passage import Passage, check_k

logger = logging.getLogger(__name__)

#: Bumped whenever the schema changes, so old databases are rebuilt rather than misread.
SCHEMA_VERSION = 1

# Words that carry no meaning for ranking. Dropping them from *queries* (the index keeps
# them) makes OR-queries about three times faster with the same recall on HotPotQA.
_STOPWORD_TEXT = """a about after all also an and any are as at be been before being between both but by can
    could did do does doing during each few for from had has have having he her here hers him
    his how i if in into is it its just me more most my no nor not of off on once only or other
    our out over own same she should so some such than that the their them then there these they
    this those through to too under until up very was we were what when where which while who
    whom why will with would you your"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_WORD_RE = re.compile(r"\w+")

IndexStatus = Literal["built", "loaded", "rebuilt"]


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: every word quoted, words joined by OR.

    Quoting makes FTS5 operators and syntax characters (``AND``, ``NEAR``, ``*``, ``:``,
    ``"``, ``^``, parentheses) plain text; OR (not FTS5's default AND) matches the way BM25
    does, so a question need not contain only words of one passage. Returns "" when no
    word is left.
    """
    words = [w for w in _WORD_RE.findall(text.lower()) if w not in STOPWORDS]
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


class SqliteFTSRetriever:
    """Retrieve passages from a JSONL corpus (or a list of dicts) with SQLite FTS5.

    ``db`` is the database file; by default ``<lmdsl cache>/sqlite-fts/<key>.sqlite3``, with
    the key derived from the corpus content and the options. ``title_weight`` is the bm25()
    weight of the title column relative to the text. Thread-safe: each thread reads through
    its own read-only connection.
    """

    def __init__(
        self,
        corpus: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
        db: str | os.PathLike[str] | None = None,
        k: int = 3,
        *,
        text_field: str = "text",
        title_field: str = "title",
        id_field: str = "id",
        tokenizer: str = "porter unicode61",
        title_weight: float = 2.0,
    ):
        self.k = check_k(k)
        self.title_weight = float(title_weight)
        if not self.title_weight >= 0:
            raise ConfigError(f"title_weight must be a non-negative number, got {title_weight!r}")
        if "'" in tokenizer:
            raise ConfigError(f"invalid FTS5 tokenizer {tokenizer!r}")
        self.tokenizer = tokenizer
        fields = {"text_field": text_field, "title_field": title_field, "id_field": id_field}

        if isinstance(corpus, str | os.PathLike):
            self.corpus_path: Path | None = Path(corpus)
            fingerprint = fingerprint_file(corpus)
            source: Any = corpus
        else:
            self.corpus_path = None
            source = list(corpus)
            fingerprint = fingerprint_rows(source)
        options = {"schema": SCHEMA_VERSION, "fingerprint": fingerprint, "tokenizer": tokenizer, **fields}
        self.key = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:32]
        if db is None:
            self.db_path = cache_dir() / "sqlite-fts" / f"{self.key}.sqlite3"
        else:
            self.db_path = Path(os.path.expanduser(os.fspath(db)))

        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

        self.index_status: IndexStatus
        state = self._check_existing()
        if state == "ok":
            self.index_status = "loaded"
        else:
            passages = load_corpus(source, **fields)
            self._build(passages)
            self.index_status = "rebuilt" if state == "damaged" else "built"
        self._num_docs = self._count()

    # -- public API ---------------------------------------------------------------

    def __call__(self, query: str, k: int | None = None) -> list[Passage]:
        """The ``k`` (default ``self.k``) best passages for ``query``, best first."""
        if not isinstance(query, str):
            raise UsageTypeError(f"a query must be a string, got {type(query).__name__}")
        k = self.k if k is None else check_k(k)
        match = fts_query(query)
        if not match or k == 0:
            return []
        rows = self._connection().execute(
            "SELECT pid, title, text, -bm25(passages, ?, 1.0) AS score FROM passages "
            "WHERE passages MATCH ? ORDER BY score DESC, rowid LIMIT ?",
            (self.title_weight, match, k),
        )
        return [Passage(text=text, title=title, id=pid, score=score) for pid, title, text, score in rows]

    def batch(self, queries: Sequence[str], k: int | None = None) -> list[list[Passage]]:
        """Answer many queries (one FTS5 query each: SQLite has no batched search)."""
        if isinstance(queries, str):
            raise UsageTypeError("batch() takes a list of queries; call the retriever itself for one query")
        return [self(q, k) for q in queries]

    def __len__(self) -> int:
        return self._num_docs

    def __copy__(self) -> SqliteFTSRetriever:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SqliteFTSRetriever:
        # Read-only after construction and holding connections and locks: copies of a program
        # (optimizers deep-copy them) share the retriever.
        return self

    def __repr__(self) -> str:
        source = os.fspath(self.corpus_path) if self.corpus_path is not None else "<list>"
        return f"SqliteFTSRetriever(corpus={source!r}, db={os.fspath(self.db_path)!r}, k={self.k})"

    def close(self) -> None:
        """Close every thread's connection (they also close when the retriever is collected)."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- storage ------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # read-only; immutable because a new index replaces the file rather than changing it,
        # which lets SQLite skip locking entirely
        uri = f"{self.db_path.resolve().as_uri()}?mode=ro&immutable=1"
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _check_existing(self) -> Literal["ok", "missing", "stale", "damaged"]:
        if not os.path.lexists(self.db_path):
            return "missing"
        try:
            conn = self._connect()
            try:
                meta = dict(conn.execute("SELECT key, value FROM meta"))
                if meta.get("key") != self.key:
                    return "stale"
                if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    raise sqlite3.DatabaseError("quick_check failed")
                if int(meta["count"]) != conn.execute("SELECT count(*) FROM passages").fetchone()[0]:
                    raise sqlite3.DatabaseError("passage count does not match")
            finally:
                conn.close()
        except (sqlite3.Error, KeyError, ValueError, OSError) as exc:
            logger.warning("FTS index %s is damaged (%s); rebuilding", self.db_path, exc)
            return "damaged"
        return "ok"

    def _build(self, passages: list[Passage]) -> None:
        """Write the whole index to a temp file beside ``db_path``, then rename it over it."""
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{self.db_path.name}.", suffix=".tmp", dir=self.db_path.parent
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot write the FTS index to {self.db_path} ({exc}); pass db= a writable path"
            ) from None
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            conn = sqlite3.connect(tmp)
            try:
                conn.execute("PRAGMA journal_mode = OFF")
                conn.execute("PRAGMA synchronous = OFF")
                try:
                    conn.execute(
                        f"CREATE VIRTUAL TABLE passages USING fts5(title, text, pid UNINDEXED, tokenize='{self.tokenizer}')"
                    )
                except sqlite3.OperationalError as exc:
                    if "no such module" in str(exc):
                        raise ConfigError("this Python's SQLite was built without FTS5") from None
                    raise ConfigError(f"invalid FTS5 tokenizer {self.tokenizer!r}: {exc}") from None
                conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                with conn:
                    conn.executemany(
                        "INSERT INTO passages (title, text, pid) VALUES (?, ?, ?)",
                        ((p.title, p.text, p.id) for p in passages),
                    )
                    conn.execute("INSERT INTO passages (passages) VALUES ('optimize')")
                    conn.executemany(
                        "INSERT INTO meta VALUES (?, ?)",
                        [
                            ("key", self.key),
                            ("count", str(len(passages))),
                            ("corpus", os.path.abspath(self.corpus_path) if self.corpus_path else ""),
                        ],
                    )
            finally:
                conn.close()
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would surprise a user who put the index beside the corpus
            try:
                os.replace(tmp, self.db_path)
            except OSError as exc:
                raise ConfigError(
                    f"cannot write the FTS index to {self.db_path} ({exc}); pass db= a writable path"
                ) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        logger.info("built FTS5 index of %d passages at %s", len(passages), self.db_path)

    def _count(self) -> int:
        return int(self._connection().execute("SELECT count(*) FROM passages").fetchone()[0])

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

