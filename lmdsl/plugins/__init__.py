"""Plugins: pluggy hooks, lazy entry-point discovery, and registries usable by name."""

from __future__ import annotations

import warnings
from typing import Any

from lmdsl.embeddings import providers as _embedding_providers
from lmdsl.lm import providers as _providers
from lmdsl.plugins.manager import PluginManager, plugin_manager, set_plugin_manager


def get_optimizer(name: str) -> Any:
    """The optimizer class registered as ``name`` (``bootstrap``, ``random-search``, plugins...)."""
    return plugin_manager().registry("optimizers").get(name)


def get_teleprompter(name: str) -> Any:
    """The old name of :func:`get_optimizer`, kept for one release."""
    warnings.warn("lmdsl.get_teleprompter is now lmdsl.get_optimizer", DeprecationWarning, stacklevel=2)
    return get_optimizer(name)


def get_retriever(name: str, **options: Any) -> Any:
    """A retriever built by the factory registered as ``name``: ``get_retriever("bm25", corpus="c.jsonl")``."""
    return plugin_manager().registry("retrievers").get(name)(**options)


def get_module(name: str) -> Any:
    return plugin_manager().registry("modules").get(name)


def get_metric(name: str) -> Any:
    return plugin_manager().registry("metrics").get(name)


def get_finetuner(name: str) -> Any:
    return plugin_manager().registry("finetuners").get(name)


def _lm_installers() -> dict[str, Any]:
    return plugin_manager().registry("lms").as_dict()


_providers.set_discovery(_lm_installers)


def _embedder_factories() -> dict[str, Any]:
    return plugin_manager().registry("embedders").as_dict()


_embedding_providers.set_discovery(_embedder_factories)

__all__ = [
    "PluginManager", "get_finetuner", "get_metric", "get_module", "get_optimizer", "get_retriever",
    "get_teleprompter",
    "plugin_manager", "set_plugin_manager",
]
