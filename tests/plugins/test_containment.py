"""Item 6: a plugin that calls sys.exit() at import or while registering is one failure among
others, never the end of the CLI; --strict tries every plugin and lists every failure."""

from __future__ import annotations

import importlib.metadata
import json
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from lmdsl import hookimpl
from lmdsl.cli.main import cli
from lmdsl.errors import PluginError
from lmdsl.plugins import PluginManager, set_plugin_manager


def entry_point(name: str, value: str, dist: str) -> importlib.metadata.EntryPoint:
    ep = importlib.metadata.EntryPoint(name=name, value=value, group="lmdsl")
    return ep._for(types.SimpleNamespace(name=dist, version="1.0"))


class ExitsInHook:
    @hookimpl
    def lmdsl_register_metrics(self, register):
        raise SystemExit(3)


@pytest.fixture
def plugins(monkeypatch):
    """Three installed plugins: one exits at import, one is missing, one works."""
    good = types.ModuleType("lmdsl_fake_fine_plugin")
    exec("from lmdsl import hookimpl\n@hookimpl\ndef lmdsl_register_metrics(register):\n"
         "    register('fine-metric', len)\n", good.__dict__)
    monkeypatch.setitem(sys.modules, "lmdsl_fake_fine_plugin", good)

    class ExitingFinder:
        """Importing lmdsl_fake_exiting_plugin runs sys.exit(0), as a broken plugin's module would."""

        def find_spec(self, name, path=None, target=None):
            if name != "lmdsl_fake_exiting_plugin":
                return None
            import importlib.util

            loader = types.SimpleNamespace(create_module=lambda spec: None,
                                           exec_module=lambda module: sys.exit(0))
            return importlib.util.spec_from_loader(name, loader)

    monkeypatch.setattr(sys, "meta_path", [ExitingFinder(), *sys.meta_path])
    eps = [entry_point("exits", "lmdsl_fake_exiting_plugin", "lmdsl-exits"),
           entry_point("missing", "lmdsl_no_such_module_anywhere", "lmdsl-missing"),
           entry_point("fine", "lmdsl_fake_fine_plugin", "lmdsl-fine")]
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **kw: [ep for ep in eps if ep.group == kw.get("group")])
    previous = set_plugin_manager(PluginManager(load_entrypoints=True))
    yield
    set_plugin_manager(previous)


def test_sys_exit_at_import_is_one_failure_and_the_rest_loads(plugins):
    from lmdsl.plugins import plugin_manager

    manager = plugin_manager()
    assert manager.registry("metrics").get("fine-metric") is len
    failed = {f.distribution: f.error for f in manager.failures}
    assert failed["lmdsl-exits"] == "SystemExit: 0"
    assert failed["lmdsl-missing"].startswith("ModuleNotFoundError")


def test_sys_exit_in_a_hook_is_contained():
    m = PluginManager(load_entrypoints=False, builtins=False)
    m.add(ExitsInHook(), "exits-in-hook")
    assert m.registry("metrics").names() == []
    assert [f.error for f in m.failures] == ["SystemExit: 3"]


def test_keyboard_interrupt_still_stops_loading():
    class Interrupts:
        @hookimpl
        def lmdsl_register_metrics(self, register):
            raise KeyboardInterrupt

    m = PluginManager(load_entrypoints=False, builtins=False)
    m.add(Interrupts(), "ctrl-c")
    with pytest.raises(KeyboardInterrupt):
        m.load()


PROG = Path(__file__).resolve().parents[1] / "cli" / "fixtures" / "sentiment_prog.py"


def test_plugins_survives_a_plugin_that_exits(plugins):
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    assert "FAILED lmdsl-exits: SystemExit: 0" in result.stdout and "lmdsl-fine" in result.stdout


def test_evaluate_survives_a_plugin_that_exits(plugins, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["evaluate", f"{PROG}:Sentiment", "--metric", "exact_match", "--json"])
    assert "skipping plugin 'lmdsl-exits' (SystemExit: 0)" in result.stderr
    assert result.exit_code == 0 and json.loads(result.stdout)["n"] == 4  # the run went on and scored


def test_strict_lists_every_failure_then_fails(plugins):
    result = CliRunner().invoke(cli, ["--strict", "plugins"])
    assert result.exit_code == 1
    assert "FAILED lmdsl-exits: SystemExit: 0" in result.stdout
    assert "FAILED lmdsl-missing: ModuleNotFoundError" in result.stdout
    assert "2 plugin(s) failed to load (--strict)" in result.stderr


def test_strict_error_names_every_failed_plugin():
    m = PluginManager(load_entrypoints=False, builtins=False, strict=True)
    m.add(ExitsInHook(), "first")
    m.add(ExitsInHook(), "second")
    with pytest.raises(PluginError, match=r"^2 plugins failed: plugin 'first' failed: SystemExit: 3; "
                                          r"plugin 'second' failed: SystemExit: 3$") as info:
        m.load()
    assert [f.name for f in info.value.failures] == ["first", "second"]
    assert m.failures == [] and not m._loaded  # all or nothing, as before
