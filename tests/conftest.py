"""Every test gets a private cache directory, default settings and a plugin manager that
loads lmdsl's built-ins only (installed third-party plugins are never auto-loaded)."""

from __future__ import annotations

import pytest

import lmdsl
from lmdsl import settings
from lmdsl.lm import history
from lmdsl.plugins import PluginManager, set_plugin_manager


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(tmp_path_factory.mktemp("lmdsl-cache")))
    monkeypatch.delenv("LMDSL_LM", raising=False)
    for var in ("LMDSL_DISABLE_PLUGINS", "LMDSL_STRICT_PLUGINS", "LMDSL_TRACE_PLUGINS", "LMDSL_TRACE",
                "LMDSL_TRACE_CONTENT"):
        monkeypatch.delenv(var, raising=False)
    settings.reset()
    history.clear()
    previous = set_plugin_manager(PluginManager(load_entrypoints=False))
    yield
    set_plugin_manager(previous)
    settings.reset()


@pytest.fixture
def scripted():
    """``scripted([...])`` builds a ScriptedLM and configures it for the test."""
    from lmdsl.testing import ScriptedLM

    def make(answers, **kwargs):
        lm = ScriptedLM(answers, **kwargs)
        lmdsl.configure(lm=lm)
        return lm

    return make
