"""Dense retrieval over a JSONL corpus stored in Qdrant (embedded local mode by default).

Why this shape:

* The index lives in a Qdrant collection whose metadata records what it was built from: the
  corpus *content* fingerprint, the field names, and the embedder's identity and dimension.
  Opening it again compares those: the same corpus and embedder load it (no embedding at
  all), an edited corpus rebuilds it, and a collection made by another embedder is refused
  with an error saying why (its vectors would be silently meaningless), unless ``rebuild=True``.
* A build first marks the collection incomplete and only marks it complete after the last
  point is written, so an interrupted build is detected and rebuilt rather than half-used.
* The default collection is named after the corpus *path* and the embedder, so editing a
  corpus rebuilds its one collection in place instead of leaving old ones behind; local
  storage gets a directory per collection, so two corpora never contend for one lock.
* Points carry the passage as payload (id, title, text): a loaded index answers queries
  without reading the corpus file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from lmdsl.embeddings import as_embedder, embedder_dimension, embedder_id
from lmdsl.errors import ConfigError, UsageTypeError
from lmdsl.retrievers import Passage, check_k
from lmdsl.retrievers.corpus import cache_dir, fingerprint_file, fingerprint_rows, load_corpus
from lmdsl.utils.progress import Progress

from lmdsl_qdrant import clients

logger = logging.getLogger(__name__)

#: Bumped whenever the payload layout or what is embedded changes.
INDEX_FORMAT = 1

IndexStatus = Literal["built", "loaded", "rebuilt", "memory"]


class QdrantRetriever:
    """Cosine similarity of embeddings over title + text of a passage corpus, stored in Qdrant.

    ``corpus`` is a JSONL path (one ``{"id"?, "title"?, "text"}`` object per line; field names
    configurable) or a list of dicts. ``embedder`` is a model name (default: the offline
    ``local/all-minilm-l6-v2``), an :class:`lmdsl.Embedder` or any object with ``embed(texts)``.
    Where the index lives: ``url`` (a Qdrant server, with ``api_key``), else ``path`` (a local
    storage directory), else ``$LMDSL_CACHE_DIR/qdrant/<collection>`` for a file corpus and
    memory for a list. ``collection`` names the collection (default: derived from the corpus
    path and the embedder). ``with_titles`` embeds ``"title | text"`` rather than the text alone.
    """

    def __init__(
        self,
        corpus: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
        *,
        k: int = 3,
        embedder: Any = None,
        url: str | None = None,
        api_key: str | None = None,
        path: str | os.PathLike[str] | None = None,
        collection: str | None = None,
        text_field: str = "text",
        title_field: str = "title",
        id_field: str = "id",
        with_titles: bool = True,
        batch_size: int = 256,
        progress: bool = True,
        rebuild: bool = False,
        timeout: int | None = None,
    ):
        self.k = check_k(k)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.embedder = as_embedder(embedder)
        self.embedder_id = embedder_id(self.embedder)
        self.with_titles = bool(with_titles)
        self._fields = {"text_field": text_field, "title_field": title_field, "id_field": id_field}
        self._batch_size = batch_size
        self._progress = progress

        rows: list[Mapping[str, Any]] | None = None
        if isinstance(corpus, str | os.PathLike):
            self.corpus_path: Path | None = Path(corpus)
            self.fingerprint = fingerprint_file(corpus)
            slot = os.path.realpath(corpus)
        else:
            self.corpus_path = None
            rows = list(corpus)
            self.fingerprint = fingerprint_rows(rows)
            slot = self.fingerprint
        self._corpus: Any = rows if rows is not None else corpus

        self.collection = collection or "lmdsl-" + _digest({
            "corpus": slot, "embedder": self.embedder_id, "with_titles": self.with_titles, **self._fields,
        })[:20]
        self.location: str
        self._finalizer: weakref.finalize | None = None
        self._lock = threading.RLock()
        if url:
            self.client = clients.open_server(url, api_key, timeout)
            self.location = url
        elif path is not None or self.corpus_path is not None:
            root = Path(os.path.expanduser(os.fspath(path))) if path is not None else cache_dir() / "qdrant" / self.collection
            self.client, self._key = clients.open_local(root)
            self.location = str(root)
            self._finalizer = weakref.finalize(self, clients.release_later, self._key)
        else:
            self.client = clients.open_memory()
            self.location = ":memory:"

        try:
            self._open_index(rebuild)
        except BaseException:
            self.close()  # a refused or failed open must not keep the local store locked
            raise

    def _open_index(self, rebuild: bool) -> None:
        self.dimension = embedder_dimension(self.embedder)
        self._meta = {
            "lmdsl_format": INDEX_FORMAT,
            "lmdsl_fingerprint": self.fingerprint,
            "lmdsl_fields": json.dumps(self._fields, sort_keys=True),
            "lmdsl_with_titles": self.with_titles,
            "lmdsl_embedder": self.embedder_id,
            "lmdsl_dimension": self.dimension,
        }
        self.index_status: IndexStatus = self._open(rebuild)

    # -- public API ---------------------------------------------------------------

    def __call__(self, query: str, k: int | None = None) -> list[Passage]:
        """The ``k`` (default ``self.k``) passages most similar to ``query``, best first."""
        return self.batch([query], k)[0]

    def batch(self, queries: Sequence[str], k: int | None = None) -> list[list[Passage]]:
        """Many queries: one embedding call and one batched Qdrant search."""
        if isinstance(queries, str):
            raise UsageTypeError("batch() takes a list of queries; call the retriever itself for one query")
        k = self.k if k is None else check_k(k)
        for q in queries:
            if not isinstance(q, str):
                raise UsageTypeError(f"a query must be a string, got {type(q).__name__}")
        if not queries or k == 0:
            return [[] for _ in queries]
        from qdrant_client import models

        vectors = self.embedder.embed(list(queries))
        requests = [models.QueryRequest(query=[float(x) for x in v], limit=k, with_payload=True) for v in vectors]
        with self._lock:
            responses = self.client.query_batch_points(self.collection, requests=requests)
        return [[_passage(point) for point in response.points] for response in responses]

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        """Release the local storage (the next retriever on it reopens it from disk)."""
        if self._finalizer is not None and self._finalizer.detach() is not None:
            clients.release_local(self._key)

    def __enter__(self) -> QdrantRetriever:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __copy__(self) -> QdrantRetriever:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> QdrantRetriever:
        return self  # an open client: programs deep-copied by optimizers share it

    def __repr__(self) -> str:
        source = os.fspath(self.corpus_path) if self.corpus_path is not None else "<list>"
        return (f"QdrantRetriever(corpus={source!r}, collection={self.collection!r}, location={self.location!r}, "
                f"embedder={self.embedder_id!r}, k={self.k})")

    # -- index --------------------------------------------------------------------

    def _open(self, rebuild: bool) -> IndexStatus:
        with self._lock:
            try:
                exists = self.client.collection_exists(self.collection)
            except Exception as exc:
                raise ConfigError(f"cannot reach Qdrant at {self.location}: {type(exc).__name__}: {exc}") from None
            if exists:
                info = self.client.get_collection(self.collection)
                stored = dict(info.config.metadata or {})
                if not rebuild:
                    self._check_compatible(stored, info.config.params.vectors)
                    if self._is_current(stored, info.points_count):
                        self.count = int(stored["lmdsl_count"])
                        return "loaded"
                    logger.info("qdrant collection %s is out of date (corpus changed or build interrupted): "
                                "rebuilding", self.collection)
                self.client.delete_collection(self.collection)
            self._build()
            if self.location == ":memory:":
                return "memory"
            return "rebuilt" if exists else "built"

    def _where(self) -> str:
        return f"qdrant collection {self.collection!r} at {self.location}"

    def _check_compatible(self, stored: dict[str, Any], vectors: Any) -> None:
        size = getattr(vectors, "size", None)
        if size is None:  # named vectors: not a collection this plugin made
            raise ConfigError(f"{self._where()} has named vectors, not one unnamed vector per point as lmdsl "
                              "builds; pass another collection= or rebuild=True to replace it")
        made_by = stored.get("lmdsl_embedder")
        if size != self.dimension:
            by = f" made by {made_by!r}" if made_by else ""
            raise ConfigError(
                f"{self._where()} holds {size}-dimensional vectors{by}, but the embedder {self.embedder_id!r} makes "
                f"{self.dimension}-dimensional ones: use the same embedder, another collection= or path=, or "
                "rebuild=True to replace the index"
            )
        if made_by is None:
            raise ConfigError(f"{self._where()} was not built by lmdsl (no lmdsl metadata): pass another "
                              "collection= or rebuild=True to replace it")
        if made_by != self.embedder_id:
            raise ConfigError(
                f"{self._where()} was built with the embedder {made_by!r}, not {self.embedder_id!r}: vectors of "
                "different models are not comparable; use that embedder, another collection=, or rebuild=True"
            )

    def _is_current(self, stored: dict[str, Any], points: int | None) -> bool:
        same = all(stored.get(key) == value for key, value in self._meta.items())
        return same and stored.get("lmdsl_complete") is True and points == stored.get("lmdsl_count")

    def _build(self) -> None:
        from qdrant_client import models

        passages = load_corpus(self._corpus, **self._fields)
        started = time.perf_counter()
        self.client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=self.dimension, distance=models.Distance.COSINE),
            metadata={**self._meta, "lmdsl_complete": False},
        )
        progress = Progress(len(passages), f"qdrant: embedding {len(passages)} passages",
                            enabled=self._progress)
        for start in range(0, len(passages), self._batch_size):
            chunk = passages[start : start + self._batch_size]
            vectors = self.embedder.embed([p.long_text if self.with_titles else p.text for p in chunk])
            if len(vectors) != len(chunk) or any(len(v) != self.dimension for v in vectors):
                raise ConfigError(f"embedder {self.embedder_id!r} returned vectors of another shape than "
                                  f"{len(chunk)} x {self.dimension}")
            self.client.upsert(
                self.collection,
                points=models.Batch(
                    ids=list(range(start, start + len(chunk))),
                    vectors=[[float(x) for x in v] for v in vectors],
                    payloads=[{"id": p.id, "title": p.title, "text": p.text} for p in chunk],
                ),
                wait=True,
            )
            progress.update(len(chunk))
        progress.close()
        self.client.update_collection(self.collection, metadata={"lmdsl_complete": True,
                                                                  "lmdsl_count": len(passages)})
        self.count = len(passages)
        logger.info("built %s (%d passages) in %.1fs", self._where(), len(passages), time.perf_counter() - started)


def _passage(point: Any) -> Passage:
    payload = point.payload or {}
    return Passage(text=str(payload.get("text", "")), title=str(payload.get("title", "") or ""),
                   id=str(payload.get("id", point.id)), score=float(point.score))


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()

