"""Built-in retrievers."""

from lmdsl.hookspecs import hookimpl


@hookimpl
def lmdsl_register_retrievers(register):
    from lmdsl.retrievers.bm25 import BM25Retriever

    register("bm25", BM25Retriever)

    from lmdsl.retrievers.hybrid import HybridRetriever

    register("hybrid", HybridRetriever)
