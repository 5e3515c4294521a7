"""lmdsl plugin: a retriever backed by SQLite FTS5.

Installing the distribution is enough: lmdsl finds this module through the ``lmdsl``
entry-point group and calls the hook below, after which ``Retrieve(retriever="sqlite-fts",
corpus="passages.jsonl")`` (or the CLI's retriever option) uses it.
"""

from __future__ import annotations

import lmdsl

from lmdsl_sqlite_fts.retriever import SqliteFTSRetriever

__all__ = ["SqliteFTSRetriever", "lmdsl_register_retrievers"]
__version__ = "0.1.0"


@lmdsl.hookimpl
def lmdsl_register_retrievers(register):
    register("sqlite-fts", SqliteFTSRetriever)
