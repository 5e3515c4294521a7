"""Any embedding model litellm knows (``openai/text-embedding-3-small``, ``cohere/...``, ``ollama/...``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmdsl.errors import LMError


class LiteLLMEmbeddings:
    """One ``litellm.embedding`` call per batch; ``params`` (``api_key``, ``api_base``,
    ``dimensions``...) are passed through. Remote calls cost money, so the ``Embedder`` in
    front caches them."""

    cacheable = True

    def __init__(self, model: str, **params: Any):
        self.model = model
        self.params = {"num_retries": 3, **params}

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        from lmdsl.lm._litellm import litellm

        try:
            response = litellm().embedding(model=self.model, input=list(texts), **self.params)
        except Exception as exc:
            raise LMError(f"embedding with {self.model!r} failed: {type(exc).__name__}: {exc}") from exc
        data = sorted(response.data, key=lambda item: _get(item, "index"))
        if len(data) != len(texts):
            raise LMError(f"embedding with {self.model!r}: {len(data)} vectors for {len(texts)} texts")
        return [list(_get(item, "embedding")) for item in data]


def _get(item: Any, name: str) -> Any:
    # litellm gives dicts for some providers and objects for others
    return item[name] if isinstance(item, dict) else getattr(item, name)
