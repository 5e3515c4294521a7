"""The plugin manager: built-ins first, then installed distributions, discovered lazily.

Nothing here runs at ``import lmdsl``: entry points are scanned the first time a
registry is consulted. A plugin that fails to import or register is reported once by
distribution name and skipped, whatever it raised: ``SystemExit`` from a plugin calling
``sys.exit()`` at import is contained like any error (only KeyboardInterrupt passes).
``LMDSL_STRICT_PLUGINS=1`` makes failures fatal once every plugin has been tried, naming
all of them, and undoes the whole load so that the manager is as before and a retry starts
afresh;
``LMDSL_DISABLE_PLUGINS=a,b`` blocks plugins; ``LMDSL_TRACE_PLUGINS=1`` prints hook calls.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pluggy

from lmdsl import hookspecs
from lmdsl.console import status
from lmdsl.errors import PluginError
from lmdsl.plugins.registry import DEPRECATED_HOOKS, KINDS, AliasedKinds, Registry

GROUP = "lmdsl"


@dataclass
class PluginInfo:
    name: str
    distribution: str
    version: str
    builtin: bool
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=AliasedKinds)


@dataclass
class PluginFailure:
    name: str
    distribution: str
    error: str


def _contain(exc: BaseException) -> None:
    """Let the user's Ctrl-C through; anything else a plugin raises (SystemExit included) is
    its failure, not the end of the process."""
    if isinstance(exc, KeyboardInterrupt):
        raise exc


def _strict_error(failures: list[PluginFailure]) -> PluginError:
    each = [f"plugin {f.distribution!r} failed: {f.error}" for f in failures]
    message = each[0] if len(each) == 1 else f"{len(each)} plugins failed: " + "; ".join(each)
    error = PluginError(message)
    error.failures = list(failures)  # type: ignore[attr-defined]  # every failure, for `lmdsl plugins`
    return error


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class PluginManager:
    """Wraps pluggy; holds one :class:`Registry` per kind."""

    def __init__(self, *, load_entrypoints: bool = True, strict: bool | None = None, builtins: bool = True):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.load_entrypoints = load_entrypoints
        self.strict = _env_flag("LMDSL_STRICT_PLUGINS") if strict is None else strict
        self.trace = _env_flag("LMDSL_TRACE_PLUGINS")
        self.disabled = {p.strip() for p in os.environ.get("LMDSL_DISABLE_PLUGINS", "").split(",") if p.strip()}
        self.registries = AliasedKinds({kind: Registry(kind) for kind in KINDS})
        self.infos: dict[str, PluginInfo] = {}
        self.failures: list[PluginFailure] = []
        self._with_builtins = builtins
        self._pending: list[tuple[Any, PluginInfo]] = []
        self._loaded = False
        self._lock = threading.RLock()

    # ---- registration -----------------------------------------------------------------
    def add(self, plugin: Any, name: str | None = None, *, distribution: str = "", version: str = "",
            builtin: bool = False) -> None:
        """Register a plugin object (a module or instance with hookimpls). Loading happens lazily."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        info = PluginInfo(name, distribution or name, version, builtin)
        with self._lock:
            if self._loaded:
                with self._all_or_nothing():
                    since = len(self.failures)
                    self._activate(plugin, info)
                    self._raise_if_strict(since)
            else:
                self._pending.append((plugin, info))

    @contextlib.contextmanager
    def _all_or_nothing(self) -> Iterator[None]:
        """Undo everything the block registered if it raises (a strict-mode PluginError).

        Pluggy registrations, registry entries, plugin infos, recorded failures, pending
        plugins and the loaded flag all go back to what they were, so the manager is never
        left half-loaded and a retry does exactly what the failed attempt did.
        """
        plugins_before = {name for name, _ in self.pm.list_name_plugin()}
        entries_before = {kind: registry.snapshot() for kind, registry in self.registries.items()}
        infos_before = dict(self.infos)
        failures_before = list(self.failures)
        pending_before = [
            (plugin, replace(info, hooks=list(info.hooks), registered=AliasedKinds(info.registered)))
            for plugin, info in self._pending
        ]
        loaded_before = self._loaded
        try:
            yield
        except BaseException:
            for name, plugin in self.pm.list_name_plugin():
                if name not in plugins_before and plugin is not None:
                    self.pm.unregister(name=name)
            for kind, registry in self.registries.items():
                registry.restore(entries_before[kind])
            self.infos = infos_before
            self.failures = failures_before
            self._pending = pending_before
            self._loaded = loaded_before
            raise

    def _activate(self, plugin: Any, info: PluginInfo) -> None:
        if info.name in self.disabled or info.distribution in self.disabled:
            return
        try:
            self.pm.register(plugin, name=info.name)
        except BaseException as exc:  # pluggy validates hookimpl names and arguments here
            _contain(exc)
            self._fail(info, exc)
            return
        unknown = self._unknown_hooks(plugin, info.name)
        if unknown:  # a misspelt hook would otherwise be silently never called
            self.pm.unregister(name=info.name)
            known = ", ".join(sorted(KINDS.values()))
            self._fail(info, PluginError(f"unknown hook(s) {', '.join(unknown)} (known hooks: {known})"))
            return
        self.infos[info.name] = info
        hooks = [(hook, kind) for kind, hook in KINDS.items()] + list(DEPRECATED_HOOKS.items())
        info.hooks = sorted({hook for hook, _ in hooks if self._impl(hook, info.name) is not None})
        for hook, kind in hooks:
            impl = self._impl(hook, info.name)
            if impl is None:
                continue
            if self.trace:
                status(f"lmdsl plugins: calling {hook} of {info.name}")
            registry = self.registries[kind]
            try:
                impl.function(register=lambda n, obj, _r=registry, _p=info.name: _r.register(n, obj, _p))
            except BaseException as exc:
                _contain(exc)
                for r in self.registries.values():
                    r.remove_plugin(info.name)
                self.pm.unregister(name=info.name)
                del self.infos[info.name]
                self._fail(info, exc)
                return
            info.registered[kind] = registry.by_plugin(info.name)
            if self.trace:
                status(f"lmdsl plugins: {info.name} registered {kind}: {', '.join(info.registered[kind])}")

    def _unknown_hooks(self, plugin: Any, plugin_name: str) -> list[str]:
        return sorted(
            caller.name
            for caller in self.pm.get_hookcallers(plugin) or []
            if not caller.has_spec()
            and any(i.plugin_name == plugin_name and not i.optionalhook for i in caller.get_hookimpls())
        )

    def _impl(self, hook: str, plugin_name: str) -> Any:
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin_name == plugin_name:
                return impl
        return None

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, PluginError) else str(exc)
        message = "; ".join(line.strip() for line in message.splitlines() if line.strip())  # one line
        failure = PluginFailure(info.name, info.distribution, message)
        self.failures.append(failure)
        if not self.strict:  # strict mode raises once every plugin was tried (_raise_if_strict)
            status(f"lmdsl: skipping plugin {info.distribution!r} ({message})", logging.WARNING)

    def _raise_if_strict(self, since: int) -> None:
        if self.strict and len(self.failures) > since:
            raise _strict_error(self.failures[since:])

    # ---- loading ----------------------------------------------------------------------
    def load(self) -> None:
        """Activate built-ins, installed plugins and added ones; all or nothing in strict mode."""
        with self._lock:  # every registry lookup (one per LM call) comes here: no snapshot once loaded
            if self._loaded:
                return
        with self._lock, self._all_or_nothing():
            if self._loaded:
                return
            self._loaded = True
            since = len(self.failures)
            if self._with_builtins:
                from lmdsl.plugins.default_plugins import BUILTINS

                for module in BUILTINS:
                    self._activate(module, PluginInfo("lmdsl." + module.__name__.rsplit(".", 1)[-1], "lmdsl",
                                                      _lmdsl_version(), True))
            if self.load_entrypoints:
                self._load_entrypoints()
            pending, self._pending = self._pending, []
            for plugin, info in pending:
                self._activate(plugin, info)
            self._raise_if_strict(since)

    def _load_entrypoints(self) -> None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=GROUP):
            dist = ep.dist.name if ep.dist else ep.name
            version = ep.dist.version if ep.dist else ""
            info = PluginInfo(ep.name, dist, version, False)
            if ep.name in self.disabled or dist in self.disabled:
                continue
            try:
                plugin = ep.load()
            except BaseException as exc:  # sys.exit() at import included
                _contain(exc)
                self._fail(info, exc)
                continue
            self._activate(plugin, info)

    def registry(self, kind: str) -> Registry:
        self.load()
        return self.registries[kind]

    def plugins(self) -> list[PluginInfo]:
        self.load()
        return list(self.infos.values())


def _lmdsl_version() -> str:
    from lmdsl import __version__

    return __version__


_manager: PluginManager | None = None
_manager_lock = threading.Lock()


def plugin_manager() -> PluginManager:
    """The process-wide manager (created on first use, loading installed plugins)."""
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = PluginManager()
        return _manager


def set_plugin_manager(manager: PluginManager | None) -> PluginManager | None:
    """Swap the process-wide manager (tests use a manager that loads no installed plugins)."""
    global _manager
    with _manager_lock:
        previous, _manager = _manager, manager
        return previous
