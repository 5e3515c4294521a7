"""The offline embedder (all-MiniLM-L6-v2 from a pip package), served under the ``local/`` prefix."""

from lmdsl.hookspecs import hookimpl


def _local(name: str, **options):
    from lmdsl.embeddings.local import SentenceTransformerEmbeddings

    return SentenceTransformerEmbeddings(name, **options)


@hookimpl
def lmdsl_register_embedders(register):
    register("local", _local)
