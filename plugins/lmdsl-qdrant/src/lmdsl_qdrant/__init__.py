"""lmdsl plugin: dense retrieval from a Qdrant vector database (embedded local mode by default).

Installing the distribution is enough: lmdsl finds this module through the ``lmdsl``
entry-point group and calls the hook below, after which
``lmdsl.get_retriever("qdrant", corpus="passages.jsonl")`` (or ``--retriever qdrant`` on the
CLI) embeds the corpus once, stores it, and answers queries by cosine similarity.
"""

from __future__ import annotations

import lmdsl

from lmdsl_qdrant.retriever import QdrantRetriever

__all__ = ["QdrantRetriever", "lmdsl_register_retrievers"]
__version__ = "0.1.0"


@lmdsl.hookimpl
def lmdsl_register_retrievers(register):
    register("qdrant", QdrantRetriever)
