"""Which model-name prefixes a plugin serves with its own embedding backend.

Filled through the ``lmdsl_register_embedders`` hook; the plugin layer hands us a discovery
callback (as for LM providers) so that this layer never imports the plugin layer. A prefix
nobody registered goes to litellm (``openai/``, ``cohere/``, ``ollama/``...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Factory = Callable[..., Any]

_discover: Callable[[], dict[str, Factory]] | None = None


def set_discovery(discover: Callable[[], dict[str, Factory]]) -> None:
    global _discover
    _discover = discover


def backend_factory(model: str) -> Factory | None:
    """The factory registered for ``model``'s prefix (``local`` for ``local/all-minilm-l6-v2``), if any."""
    if _discover is None or "/" not in model:
        return None
    return _discover().get(model.split("/", 1)[0])
