"""The plugin registers ``lora`` through lmdsl's hook, like any third-party plugin."""

from __future__ import annotations

from importlib.metadata import entry_points

import pluggy
import pytest
from lmdsl import hookspecs

from lmdsl_lora import finetune_lora, plugin


def test_hookimpl_registers_lora():
    pm = pluggy.PluginManager("lmdsl")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin)
    registered: dict = {}
    pm.hook.lmdsl_register_finetuners(register=registered.__setitem__)
    assert registered == {"lora": finetune_lora}


def test_lmdsl_plugin_manager_finds_it():
    manager_mod = pytest.importorskip("lmdsl.plugins.manager")
    manager = manager_mod.PluginManager(load_entrypoints=False, builtins=False)
    manager.add(plugin, "lora", distribution="lmdsl-lora")
    assert manager.registry("finetuners").get("lora") is finetune_lora


def test_entry_point_is_declared():
    eps = [ep for ep in entry_points(group="lmdsl") if ep.name == "lora"]
    if not eps:
        pytest.skip("lmdsl-lora is not installed (pip install -e plugins/lmdsl-lora)")
    assert eps[0].value == "lmdsl_lora.plugin"
    assert eps[0].load() is plugin


def test_importing_the_plugin_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, lmdsl_lora.plugin; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
