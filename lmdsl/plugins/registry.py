"""A named registry per kind of thing plugins provide; duplicates are refused naming both plugins."""

from __future__ import annotations

from typing import Any

from lmdsl.errors import PluginError


class AliasedKinds(dict[str, Any]):
    """A dict keyed by kind where the old kind names (``KIND_ALIASES``) still find their entry, for
    one release, without showing up when iterating (listings name each kind once, by its new name)."""

    def __missing__(self, key: str) -> Any:
        if key in KIND_ALIASES:
            return self[KIND_ALIASES[key]]
        raise KeyError(key)


# "teleprompters" is the old name of "optimizers"; the old hook lmdsl_register_teleprompters
# still fills the optimizers registry (pluggy warns its implementers that it is deprecated).
KIND_ALIASES = {"teleprompters": "optimizers"}
DEPRECATED_HOOKS = {"lmdsl_register_teleprompters": "optimizers"}

KINDS = AliasedKinds({
    "modules": "lmdsl_register_modules",
    "retrievers": "lmdsl_register_retrievers",
    "optimizers": "lmdsl_register_optimizers",
    "lms": "lmdsl_register_lms",
    "metrics": "lmdsl_register_metrics",
    "finetuners": "lmdsl_register_finetuners",
    "executors": "lmdsl_register_executors",
    "embedders": "lmdsl_register_embedders",
})
SINGULAR = {"modules": "module", "retrievers": "retriever", "optimizers": "optimizer", "lms": "LM provider",
            "metrics": "metric", "finetuners": "finetuner", "embedders": "embedder",
            "executors": "executor"}


class Registry:
    """name -> (object, plugin that registered it)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, tuple[Any, str]] = {}

    def register(self, name: str, obj: Any, plugin: str) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r}: {SINGULAR[self.kind]} names must be non-empty strings, got {name!r}")
        if name in self._entries:
            owner = self._entries[name][1]
            raise PluginError(
                f"plugin {plugin!r} registers {SINGULAR[self.kind]} {name!r}, already registered by plugin {owner!r}"
            )
        self._entries[name] = (obj, plugin)

    def remove_plugin(self, plugin: str) -> None:
        for name in [n for n, (_, p) in self._entries.items() if p == plugin]:
            del self._entries[name]

    def snapshot(self) -> dict[str, tuple[Any, str]]:
        """The current entries, for :meth:`restore` (the manager undoes a failed load with it)."""
        return dict(self._entries)

    def restore(self, entries: dict[str, tuple[Any, str]]) -> None:
        self._entries = dict(entries)

    def get(self, name: str) -> Any:
        try:
            return self._entries[name][0]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise PluginError(f"unknown {SINGULAR[self.kind]} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def by_plugin(self, plugin: str) -> list[str]:
        return sorted(n for n, (_, p) in self._entries.items() if p == plugin)

    def as_dict(self) -> dict[str, Any]:
        return {n: obj for n, (obj, _) in self._entries.items()}
