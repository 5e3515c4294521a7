"""The plugin manager: every hookspec, duplicate names, broken plugins reported and skipped,
strict/disable/trace variables, lazy entry-point discovery. Test plugins are defined inline."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import lmdsl
from lmdsl import PluginError, hookimpl
from lmdsl.plugins import PluginManager, set_plugin_manager
from lmdsl.plugins.registry import KINDS

REPO = Path(__file__).resolve().parents[2]


def manager(**kwargs) -> PluginManager:
    kwargs.setdefault("load_entrypoints", False)
    kwargs.setdefault("builtins", False)
    return PluginManager(**kwargs)


def plugin(**hooks) -> types.SimpleNamespace:
    """A plugin object whose hooks register the given {name: obj} per kind."""
    ns = types.SimpleNamespace()
    for kind, entries in hooks.items():
        hook = KINDS[kind]

        def impl(register, _entries=entries):
            for name, obj in _entries.items():
                register(name, obj)

        impl.__name__ = hook
        setattr(ns, hook, hookimpl(impl))
    return ns


class Optimizer:
    def __init__(self, metric=None, **options):
        self.metric, self.options = metric, options


# ---- each hookspec --------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_hookspec_registers_by_name(kind):
    obj = object()
    m = manager()
    m.add(plugin(**{kind: {"thing": obj}}), "my-plugin")
    assert m.registry(kind).get("thing") is obj
    assert m.registry(kind).names() == ["thing"]
    info = m.plugins()[0]
    assert (info.name, info.builtin, info.hooks, info.registered) == ("my-plugin", False, [KINDS[kind]],
                                                                     {kind: ["thing"]})


def test_registries_by_name_through_the_public_api():
    calls = []

    def retriever_factory(**options):
        calls.append(options)
        return "a retriever"

    def metric(example, pred, trace=None):
        return True

    m = manager()
    m.add(plugin(teleprompters={"my-opt": Optimizer}, retrievers={"my-ret": retriever_factory},
                 modules={"MyModule": lmdsl.Predict}, metrics={"always": metric},
                 finetuners={"my-ft": len}), "p")
    set_plugin_manager(m)
    assert lmdsl.get_teleprompter("my-opt") is Optimizer
    assert lmdsl.get_retriever("my-ret", corpus="c.jsonl", k=3) == "a retriever"
    assert calls == [{"corpus": "c.jsonl", "k": 3}]
    assert lmdsl.get_module("MyModule") is lmdsl.Predict
    assert lmdsl.get_metric("always") is metric
    assert lmdsl.get_finetuner("my-ft") is len
    with pytest.raises(PluginError, match=r"^unknown optimizer 'nope'; known: my-opt$"):
        lmdsl.get_teleprompter("nope")


def test_lm_provider_hook_installs_once_on_first_use():
    from lmdsl.lm.providers import ensure_provider

    installs = []
    m = manager()
    m.add(plugin(lms={"testprefix-a1": lambda: installs.append(1)}), "p")
    set_plugin_manager(m)
    ensure_provider("testprefix-a1/some-model")
    ensure_provider("testprefix-a1/other-model")
    ensure_provider("openai/unrelated")
    assert installs == [1]


def test_builtins_register_through_the_same_hooks():
    m = PluginManager(load_entrypoints=False)
    assert {"Predict", "ChainOfThought"} <= set(m.registry("modules").names())
    assert "bm25" in m.registry("retrievers").names()
    assert "local" in m.registry("lms").names()
    infos = {i.name: i for i in m.plugins()}
    assert infos["lmdsl.modules"].builtin and infos["lmdsl.modules"].distribution == "lmdsl"
    assert {"ChainOfThought", "Predict", "Retrieve"} <= set(infos["lmdsl.modules"].registered["modules"])


def test_a_module_object_is_a_plugin():
    mod = types.ModuleType("lmdsl_test_plugin_module")
    exec("from lmdsl import hookimpl\n@hookimpl\ndef lmdsl_register_metrics(register):\n"
         "    register('exact', len)\n", mod.__dict__)
    m = manager()
    m.add(mod)
    assert m.registry("metrics").get("exact") is len
    assert m.plugins()[0].name == "lmdsl_test_plugin_module"


def test_add_after_loading_activates_immediately():
    m = manager()
    m.registry("modules")
    m.add(plugin(modules={"Late": object}), "late")
    assert m.registry("modules").names() == ["Late"]


def test_invalid_registered_name():
    m = manager()
    m.add(plugin(modules={"": object}), "blank")
    assert m.registry("modules").names() == []
    assert m.failures[0].error == "plugin 'blank': module names must be non-empty strings, got ''"


# ---- duplicates -----------------------------------------------------------------------
def test_duplicate_names_are_rejected_naming_both_plugins(capsys):
    m = manager()
    first = object()
    m.add(plugin(teleprompters={"fast": first}), "plugin-a")
    m.add(plugin(teleprompters={"fast": object(), "other": object()}, metrics={"m": len}), "plugin-b")
    assert m.registry("teleprompters").get("fast") is first
    # plugin-b is rolled back entirely: nothing half-registered
    assert m.registry("teleprompters").names() == ["fast"]
    assert m.registry("metrics").names() == []
    assert [i.name for i in m.plugins()] == ["plugin-a"]
    message = "plugin 'plugin-b' registers optimizer 'fast', already registered by plugin 'plugin-a'"
    assert [(f.name, f.error) for f in m.failures] == [("plugin-b", message)]
    assert capsys.readouterr().err == f"lmdsl: skipping plugin 'plugin-b' ({message})\n"


def test_a_plugin_cannot_take_a_builtin_name():
    m = PluginManager(load_entrypoints=False)
    m.add(plugin(modules={"Predict": object}), "impostor")
    assert m.registry("modules").get("Predict") is lmdsl.Predict
    assert m.failures[0].error == (
        "plugin 'impostor' registers module 'Predict', already registered by plugin 'lmdsl.modules'"
    )


def test_two_plugins_with_the_same_name():
    m = manager()
    m.add(plugin(metrics={"a": len}), "same")
    m.add(plugin(metrics={"b": len}), "same")
    assert m.registry("metrics").names() == ["a"]
    assert m.failures[0].name == "same" and "already registered" in m.failures[0].error


# ---- broken plugins are reported and skipped ------------------------------------------
class RaisesInHook:
    @hookimpl
    def lmdsl_register_modules(self, register):
        register("Half", object)
        raise RuntimeError("boom while registering")


class WrongArgumentName:
    @hookimpl
    def lmdsl_register_retrievers(self, registrar):
        registrar("never", object)


class MisspeltHook:
    @hookimpl
    def lmdsl_register_teleprompter(self, register):  # singular: not a hook
        register("never", object)


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        (RaisesInHook(), "RuntimeError: boom while registering"),
        (WrongArgumentName(), (
            "PluginValidationError: Plugin 'broken' for hook 'lmdsl_register_retrievers'; "
            "hookimpl definition: lmdsl_register_retrievers(registrar); "
            "Argument(s) {'registrar'} are declared in the hookimpl but can not be found in the hookspec"
        )),
        (MisspeltHook(), (
            "unknown hook(s) lmdsl_register_teleprompter (known hooks: " + ", ".join(sorted(KINDS.values())) + ")"
        )),
    ],
    ids=["raises", "wrong-argument", "unknown-hook"],
)
def test_broken_plugin_is_reported_and_others_keep_working(capsys, broken, error):
    m = manager()
    m.add(plugin(modules={"Before": object}), "good-1")
    m.add(broken, "broken", distribution="lmdsl-broken")
    m.add(plugin(modules={"After": object}), "good-2")
    assert m.registry("modules").names() == ["After", "Before"]  # nothing from the broken one
    assert [i.name for i in m.plugins()] == ["good-1", "good-2"]
    assert [(f.name, f.distribution, f.error) for f in m.failures] == [("broken", "lmdsl-broken", error)]
    assert capsys.readouterr().err == f"lmdsl: skipping plugin 'lmdsl-broken' ({error})\n"
    assert m.pm.get_plugin("broken") is None  # unregistered from pluggy too


def test_failures_are_reported_once(capsys):
    m = manager()
    m.add(RaisesInHook(), "broken")
    for kind in KINDS:
        m.registry(kind)
    m.plugins()
    assert capsys.readouterr().err.count("skipping plugin") == 1


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_strict_env_turns_failures_into_errors(monkeypatch, value):
    monkeypatch.setenv("LMDSL_STRICT_PLUGINS", value)
    m = manager()
    m.add(RaisesInHook(), "broken", distribution="lmdsl-broken")
    with pytest.raises(PluginError, match=r"^plugin 'lmdsl-broken' failed: RuntimeError: boom while registering$"):
        m.registry("modules")


def test_strict_argument():
    m = manager(strict=True)
    m.add(plugin(metrics={"x": len}), "a")
    m.add(plugin(metrics={"x": len}), "b")
    with pytest.raises(PluginError, match="plugin 'b' registers metric 'x', already registered by plugin 'a'"):
        m.registry("metrics")


def test_not_strict_when_env_is_off(monkeypatch):
    monkeypatch.setenv("LMDSL_STRICT_PLUGINS", "0")
    m = manager()
    m.add(RaisesInHook(), "broken")
    m.registry("modules")
    assert len(m.failures) == 1


# ---- disable / trace ------------------------------------------------------------------
def test_disable_blocks_plugins_by_name_or_distribution(monkeypatch):
    monkeypatch.setenv("LMDSL_DISABLE_PLUGINS", "a, dist-c")
    m = manager()
    m.add(plugin(metrics={"from-a": len}), "a")
    m.add(plugin(metrics={"from-b": len}), "b")
    m.add(plugin(metrics={"from-c": len}), "c", distribution="dist-c")
    assert m.registry("metrics").names() == ["from-b"]
    assert m.failures == []


def test_disable_a_builtin(monkeypatch):
    monkeypatch.setenv("LMDSL_DISABLE_PLUGINS", "lmdsl.retrievers")
    m = PluginManager(load_entrypoints=False)
    assert m.registry("retrievers").names() == []
    assert "Predict" in m.registry("modules").names()


def test_trace_prints_hook_calls(monkeypatch, capsys):
    monkeypatch.setenv("LMDSL_TRACE_PLUGINS", "1")
    m = manager()
    m.add(plugin(modules={"A": object, "B": object}, metrics={"m": len}), "traced")
    m.registry("modules")
    assert capsys.readouterr().err.splitlines() == [
        "lmdsl plugins: calling lmdsl_register_modules of traced",
        "lmdsl plugins: traced registered modules: A, B",
        "lmdsl plugins: calling lmdsl_register_metrics of traced",
        "lmdsl plugins: traced registered metrics: m",
    ]


def test_no_trace_by_default(capsys):
    m = manager()
    m.add(plugin(modules={"A": object}), "quiet")
    m.registry("modules")
    assert capsys.readouterr().err == ""


# ---- entry points ---------------------------------------------------------------------
def entry_point(name: str, value: str, dist: str, version: str = "1.0") -> importlib.metadata.EntryPoint:
    ep = importlib.metadata.EntryPoint(name=name, value=value, group="lmdsl")
    return ep._for(types.SimpleNamespace(name=dist, version=version))


@pytest.fixture
def fake_entry_points(monkeypatch):
    good = types.ModuleType("lmdsl_fake_good_plugin")
    exec("from lmdsl import hookimpl\n@hookimpl\ndef lmdsl_register_teleprompters(register):\n"
         "    register('fake-opt', object)\n", good.__dict__)
    monkeypatch.setitem(sys.modules, "lmdsl_fake_good_plugin", good)
    eps = [
        entry_point("good", "lmdsl_fake_good_plugin", "lmdsl-good", "2.1"),
        entry_point("missing", "lmdsl_no_such_module_anywhere:plugin", "lmdsl-missing"),
    ]
    scans = []

    def fake(**kwargs):
        scans.append(kwargs)
        return [ep for ep in eps if ep.group == kwargs.get("group")]

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    return scans


def test_entry_points_are_discovered_lazily(fake_entry_points, capsys):
    m = PluginManager(builtins=False)
    assert fake_entry_points == []  # constructing the manager scans nothing
    assert m.registry("teleprompters").names() == ["fake-opt"]
    assert fake_entry_points == [{"group": "lmdsl"}]
    m.registry("modules")
    assert len(fake_entry_points) == 1  # scanned once

    info = m.plugins()[0]
    assert (info.name, info.distribution, info.version, info.builtin) == ("good", "lmdsl-good", "2.1", False)
    failure = m.failures[0]
    assert (failure.name, failure.distribution) == ("missing", "lmdsl-missing")
    assert failure.error == "ModuleNotFoundError: No module named 'lmdsl_no_such_module_anywhere'"
    assert capsys.readouterr().err == (
        "lmdsl: skipping plugin 'lmdsl-missing' "
        "(ModuleNotFoundError: No module named 'lmdsl_no_such_module_anywhere')\n"
    )


def test_entry_point_import_failure_in_strict_mode(fake_entry_points, monkeypatch):
    monkeypatch.setenv("LMDSL_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"^plugin 'lmdsl-missing' failed: ModuleNotFoundError"):
        PluginManager(builtins=False).registry("modules")


def test_disabled_entry_point_is_not_even_imported(fake_entry_points, monkeypatch):
    monkeypatch.setenv("LMDSL_DISABLE_PLUGINS", "lmdsl-missing")
    m = PluginManager(builtins=False)
    m.registry("modules")
    assert m.failures == []
    assert [i.name for i in m.plugins()] == ["good"]


def test_tests_never_auto_load_installed_plugins(fake_entry_points):
    from lmdsl.plugins import plugin_manager

    plugin_manager().registry("teleprompters")
    assert fake_entry_points == []  # the conftest's manager has load_entrypoints=False


def test_import_lmdsl_scans_no_entry_points():
    code = (
        "import importlib.metadata as md\n"
        "calls = []\n"
        "real = md.entry_points\n"
        "md.entry_points = lambda **kw: calls.append(kw) or real(**kw)\n"
        "import lmdsl\n"
        "p = lmdsl.Predict('question -> answer')\n"
        "p.render(question='q')\n"
        "lmdsl.signature('a -> b')\n"
        "print(len(calls))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                         env=env).stdout.strip()
    assert out == "0"


# ---- strict loading is all or nothing -------------------------------------------------
class FailsOnce:
    """A plugin whose hook fails the first time (a transient import-time problem, say)."""

    def __init__(self):
        self.calls = 0

    @hookimpl
    def lmdsl_register_metrics(self, register):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("not yet")
        register("late-metric", len)


def test_strict_load_failure_leaves_the_manager_as_before():
    m = manager(strict=True)
    m.add(plugin(modules={"Before": object}), "good-1")
    m.add(RaisesInHook(), "broken", distribution="lmdsl-broken")
    m.add(plugin(modules={"After": object}), "good-2")
    for _ in range(2):  # a retry fails the same way, not on a half-loaded manager
        with pytest.raises(PluginError, match=r"^plugin 'lmdsl-broken' failed: RuntimeError: boom"):
            m.registry("modules")
        assert all(m.registries[kind].names() == [] for kind in KINDS)
        assert m.infos == {} and m.failures == []
        assert m.pm.get_plugins() == set()
        assert [info.name for _, info in m._pending] == ["good-1", "broken", "good-2"]
        assert not m._loaded


def test_strict_load_failure_unregisters_builtins_and_a_retry_loads_everything():
    m = PluginManager(load_entrypoints=False, strict=True)
    flaky = FailsOnce()
    m.add(plugin(modules={"Mine": object}), "mine")
    m.add(flaky, "flaky")
    with pytest.raises(PluginError, match=r"^plugin 'flaky' failed: RuntimeError: not yet$"):
        m.load()
    assert m.pm.get_plugins() == set() and m.registries["modules"].names() == []
    m.load()  # the cause is gone: the retry loads built-ins and every added plugin
    assert {"Predict", "Mine"} <= set(m.registry("modules").names())
    assert m.registry("metrics").get("late-metric") is len
    assert [i.name for i in m.plugins()][-2:] == ["mine", "flaky"]
    assert m.plugins()[-1].registered == {"metrics": ["late-metric"]}
    assert m.failures == []


def test_strict_add_after_loading_fails_without_a_trace():
    m = manager(strict=True)
    m.add(plugin(metrics={"x": len}), "a")
    m.load()
    with pytest.raises(PluginError, match="plugin 'b' registers metric 'x', already registered by plugin 'a'"):
        m.add(plugin(metrics={"x": len, "y": len}), "b")
    assert m.registry("metrics").names() == ["x"]
    assert [i.name for i in m.plugins()] == ["a"] and m.failures == []
    assert m.pm.get_plugin("b") is None
