"""Retrievers: the :class:`Retriever` protocol, :class:`Passage`, and BM25 as the default.

Importing this package is cheap: numpy, bm25s and the stemmer load only when a
:class:`BM25Retriever` is created.
"""

from lmdsl.retrievers.bm25 import BM25Retriever
from lmdsl.retrievers.corpus import cache_dir, fingerprint_file, iter_jsonl_corpus, load_corpus
from lmdsl.retrievers.passage import BatchRetriever, Passage, Retriever, check_k, retrieve_batch

__all__ = [
    "BM25Retriever",
    "BatchRetriever",
    "Passage",
    "Retriever",
    "cache_dir",
    "check_k",
    "fingerprint_file",
    "iter_jsonl_corpus",
    "load_corpus",
    "retrieve_batch",
]
