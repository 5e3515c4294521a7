"""Load a JSONL passage corpus, fingerprint it, and locate lmdsl's cache directory.

Shared by every retriever (the built-in BM25 one and third-party plugins such as
``lmdsl-sqlite-fts``) so that all of them accept the same files and report the same,
line-numbered errors.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lmdsl.errors import ConfigError, DataError
from lmdsl.retrievers.passage import Passage
from lmdsl.utils.paths import cache_root

CorpusSource = str | os.PathLike[str] | Iterable[Mapping[str, Any]]

_CHUNK = 1 << 20


cache_dir = cache_root  # the name retriever plugins know


def fingerprint_file(path: str | os.PathLike[str]) -> str:
    """sha256 of the file's bytes, read in chunks so a large corpus is never held twice.

    Content, not mtime: a ``touch`` or a fresh clone must not invalidate an index, and an
    edit that keeps the size and mtime must.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise ConfigError(f"corpus file not found: {os.fspath(path)}") from None
    return digest.hexdigest()


def fingerprint_rows(rows: Iterable[Mapping[str, Any]]) -> str:
    """sha256 of an in-memory corpus (canonical JSON), for corpora given as a list of dicts."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def row_to_passage(
    row: Any,
    where: str,
    default_id: str,
    *,
    text_field: str = "text",
    title_field: str = "title",
    id_field: str = "id",
) -> Passage:
    """Validate one corpus row and turn it into a :class:`Passage`.

    ``where`` prefixes every error (``"corpus.jsonl line 17"``); ``default_id`` is used when
    the row has no id. Title and id are optional, text is required.
    """
    if not isinstance(row, Mapping):
        raise DataError(f"{where}: expected a JSON object, got {_type_name(row)}")
    if text_field not in row:
        found = ", ".join(repr(k) for k in row) or "none"
        raise DataError(f"{where}: missing text field {text_field!r} (found keys: {found})")
    text = row[text_field]
    if not isinstance(text, str):
        raise DataError(f"{where}: field {text_field!r} must be a string, got {_type_name(text)}")
    title = row.get(title_field)
    if title is None:
        title = ""
    elif not isinstance(title, str):
        raise DataError(f"{where}: field {title_field!r} must be a string, got {_type_name(title)}")
    pid = row.get(id_field)
    if pid is None or pid == "":
        pid = default_id
    elif isinstance(pid, bool) or not isinstance(pid, str | int):
        raise DataError(f"{where}: field {id_field!r} must be a string or an integer, got {_type_name(pid)}")
    return Passage(text=text, title=title, id=str(pid))


def iter_jsonl_corpus(
    path: str | os.PathLike[str],
    *,
    text_field: str = "text",
    title_field: str = "title",
    id_field: str = "id",
) -> Iterator[Passage]:
    """Yield the passages of a JSONL file, one object per line; blank lines are skipped.

    A row without an id gets its 1-based line number as id: stable as long as the file is,
    and unique without trusting titles to be.
    """
    name = os.fspath(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed by the `with f` below, after translating errors)
    except FileNotFoundError:
        raise ConfigError(f"corpus file not found: {name}") from None
    except IsADirectoryError:
        raise ConfigError(f"corpus path is a directory, not a JSONL file: {name}") from None
    seen: dict[str, int] = {}
    lineno = 0
    with f:
        for lineno, raw in enumerate(f, start=1):
            where = f"{name} line {lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{where}: not valid UTF-8 (byte {exc.start + 1})") from None
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            passage = row_to_passage(
                row, where, str(lineno), text_field=text_field, title_field=title_field, id_field=id_field
            )
            first = seen.setdefault(passage.id, lineno)
            if first != lineno:
                raise DataError(f"{where}: duplicate id {passage.id!r} (first used on line {first})")
            yield passage
    if not seen:
        why = "the file is empty" if lineno == 0 else "only blank lines"
        raise DataError(f"{name}: no passages ({why})")


def load_corpus(
    source: CorpusSource,
    *,
    text_field: str = "text",
    title_field: str = "title",
    id_field: str = "id",
) -> list[Passage]:
    """Load a corpus given as a JSONL path or as an iterable of dicts (ids default to position)."""
    fields = {"text_field": text_field, "title_field": title_field, "id_field": id_field}
    if isinstance(source, str | os.PathLike):
        return list(iter_jsonl_corpus(source, **fields))
    if isinstance(source, Mapping | str | bytes):
        raise ConfigError(f"corpus must be a JSONL path or a list of dicts, got {_type_name(source)}")
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(source):
        where = f"corpus item {i}"
        passage = row_to_passage(row, where, str(i), **fields)
        first = seen.setdefault(passage.id, i)
        if first != i:
            raise DataError(f"{where}: duplicate id {passage.id!r} (first used by item {first})")
        passages.append(passage)
    if not passages:
        raise DataError("corpus: no passages (the list is empty)")
    return passages
