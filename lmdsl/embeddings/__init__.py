"""Embeddings: :class:`Embedder` (litellm models, the offline all-MiniLM-L6-v2, functions,
plugin backends), the :class:`SupportsEmbed` protocol, and a small exact :class:`DenseIndex`.

Importing this package is cheap: litellm, numpy and torch load at the first ``embed``.
"""

from lmdsl.embeddings.dense_index import DenseIndex
from lmdsl.embeddings.embedder import DEFAULT_EMBEDDER, Embedder
from lmdsl.embeddings.protocol import SupportsEmbed, embedder_dimension, embedder_id


def as_embedder(value: object = None) -> SupportsEmbed:
    """An embedder from what a user or the CLI passes: None (the offline default), a model name,
    or an object with ``embed``."""
    if value is None:
        return Embedder(DEFAULT_EMBEDDER)
    if isinstance(value, str):
        return Embedder(value)
    if isinstance(value, SupportsEmbed):
        return value
    from lmdsl.errors import ConfigError

    raise ConfigError(f"embedder must be a model name or an object with embed(texts), got {type(value).__name__}")


__all__ = [
    "DEFAULT_EMBEDDER", "DenseIndex", "Embedder", "SupportsEmbed", "as_embedder", "embedder_dimension",
    "embedder_id",
]
