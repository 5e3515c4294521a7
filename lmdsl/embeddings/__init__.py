"""Embeddings: :class:`Embedder` (litellm models, the offline all-MiniLM-L6-v2, functions,
plugin backends), the :class:`SupportsEmbed` protocol, and a small exact :class:`DenseIndex`.

Importing this package is cheap: ``import lmdsl`` loads only :mod:`.providers` (the plugin
layer wires discovery into it); the rest loads on first attribute access, and litellm, numpy
and torch at the first ``embed``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "DEFAULT_EMBEDDER": "lmdsl.embeddings.embedder",
    "Embedder": "lmdsl.embeddings.embedder",
    "DenseIndex": "lmdsl.embeddings.dense_index",
    "SupportsEmbed": "lmdsl.embeddings.protocol",
    "embedder_dimension": "lmdsl.embeddings.protocol",
    "embedder_id": "lmdsl.embeddings.protocol",
}


def as_embedder(value: object = None) -> Any:
    """An embedder from what a user or the CLI passes: None (the offline default), a model name,
    or an object with ``embed``."""
    from lmdsl.embeddings.embedder import DEFAULT_EMBEDDER, Embedder
    from lmdsl.embeddings.protocol import SupportsEmbed

    if value is None:
        return Embedder(DEFAULT_EMBEDDER)
    if isinstance(value, str):
        return Embedder(value)
    if isinstance(value, SupportsEmbed):
        return value
    from lmdsl.errors import ConfigError

    raise ConfigError(f"embedder must be a model name or an object with embed(texts), got {type(value).__name__}")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lmdsl.embeddings' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_EMBEDDER", "DenseIndex", "Embedder", "SupportsEmbed", "as_embedder", "embedder_dimension",
    "embedder_id",
]
