import pytest

from lmdsl import settings
from lmdsl.plugins import PluginManager, set_plugin_manager


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(tmp_path / "cache"))
    settings.reset()
    previous = set_plugin_manager(PluginManager(load_entrypoints=False))
    yield
    set_plugin_manager(previous)
    settings.reset()
