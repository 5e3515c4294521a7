"""What every embedder is: ``embed(texts) -> array`` of shape (len(texts), dimension).

Retrievers and optimizers type against :class:`SupportsEmbed`, so any object with an
``embed`` method works (an :class:`lmdsl.Embedder`, a plugin's class, a test double); the
helpers below read the two facts an index needs from such an object (its identity and its
dimension) without assuming it is an ``Embedder``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from lmdsl.errors import UsageError


@runtime_checkable
class SupportsEmbed(Protocol):
    """Anything that turns texts into one vector each (a 2-D float array, one row per text)."""

    def embed(self, texts: Sequence[str]) -> Any: ...


def embedder_id(embedder: Any) -> str:
    """A stable name for what produced a vector (part of index keys); never holds a secret.

    An :class:`lmdsl.Embedder` has ``id`` (model and non-secret options); another object may
    define ``id`` or ``model``, else its class name stands in.
    """
    for attr in ("id", "model"):
        value = getattr(embedder, attr, None)
        if isinstance(value, str) and value:
            return value
    cls = type(embedder)
    return f"{cls.__module__}.{cls.__qualname__}"


def embedder_dimension(embedder: Any) -> int:
    """The length of the embedder's vectors (its ``dimension``, else that of one probe text)."""
    dimension = getattr(embedder, "dimension", None)
    if isinstance(dimension, int) and not isinstance(dimension, bool) and dimension > 0:
        return dimension
    import numpy as np

    vectors = np.asarray(embedder.embed(["dimension probe"]), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != 1 or vectors.shape[1] < 1:
        raise UsageError(f"embedder {embedder_id(embedder)!r} returned shape {vectors.shape} for one text")
    return int(vectors.shape[1])
