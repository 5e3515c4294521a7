""""optimizer" is the public word; the "teleprompter" names (hook, registry kind, getter, base class,
package lmdsl.teleprompt) keep working for one release and lead to the very same objects."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import types

import pytest

import lmdsl
import lmdsl.optimizers
from lmdsl import hookimpl
from lmdsl.plugins import PluginManager, set_plugin_manager
from lmdsl.plugins.registry import KINDS


class MyOptimizer:
    pass


def old_style_plugin() -> types.SimpleNamespace:
    """A third-party plugin written against the old hook name."""

    @hookimpl
    def lmdsl_register_teleprompters(register):
        register("old-style", MyOptimizer)

    return types.SimpleNamespace(lmdsl_register_teleprompters=lmdsl_register_teleprompters)


@pytest.fixture
def manager():
    m = PluginManager(load_entrypoints=False, builtins=False)
    previous = set_plugin_manager(m)
    yield m
    set_plugin_manager(previous)


def test_a_plugin_on_the_old_hook_still_registers_an_optimizer_with_a_deprecation_warning(manager):
    manager.add(old_style_plugin(), "old-plugin")
    with pytest.warns(DeprecationWarning, match="lmdsl_register_optimizers"):
        assert lmdsl.get_optimizer("old-style") is MyOptimizer
    info = manager.plugins()[0]
    assert info.hooks == ["lmdsl_register_teleprompters"]
    assert dict(info.registered) == {"optimizers": ["old-style"]}
    assert info.registered["teleprompters"] == ["old-style"]  # the old kind name still reads


def test_the_old_registry_kind_and_getter_are_the_new_ones(manager):
    @hookimpl
    def lmdsl_register_optimizers(register):
        register("new-style", MyOptimizer)

    manager.add(types.SimpleNamespace(lmdsl_register_optimizers=lmdsl_register_optimizers), "new-plugin")
    assert manager.registry("teleprompters") is manager.registry("optimizers")
    with pytest.warns(DeprecationWarning, match="get_optimizer"):
        assert lmdsl.get_teleprompter("new-style") is MyOptimizer
    assert KINDS["teleprompters"] == KINDS["optimizers"] == "lmdsl_register_optimizers"
    assert "teleprompters" not in KINDS  # listings name each kind once, by its new name
    with pytest.raises(KeyError):
        KINDS["no-such-kind"]


def test_builtins_register_through_the_new_hook():
    m = PluginManager(load_entrypoints=False)
    info = next(i for i in m.plugins() if "random-search" in i.registered.get("optimizers", []))
    assert info.hooks == ["lmdsl_register_optimizers"]


def test_old_import_paths_give_the_same_objects(monkeypatch):
    for name in [n for n in sys.modules if n == "lmdsl.teleprompt" or n.startswith("lmdsl.teleprompt.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.warns(DeprecationWarning, match="lmdsl.optimizers"):
        old = importlib.import_module("lmdsl.teleprompt")
    assert old is lmdsl.optimizers
    submodules = [m.name for m in pkgutil.iter_modules(lmdsl.optimizers.__path__)]
    assert {"base", "bootstrap", "finetune", "random_search"} <= set(submodules)
    for name in submodules:
        assert importlib.import_module(f"lmdsl.teleprompt.{name}") is importlib.import_module(f"lmdsl.optimizers.{name}")
    from lmdsl.teleprompt import BootstrapFewShot
    from lmdsl.teleprompt.base import Teleprompter

    assert BootstrapFewShot is lmdsl.BootstrapFewShot
    assert Teleprompter is lmdsl.Optimizer is lmdsl.Teleprompter
