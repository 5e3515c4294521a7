"""The hook registers the retriever under "sqlite-fts", directly and through pluggy."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution

import lmdsl
import pluggy
import pytest
from lmdsl import hookspecs

import lmdsl_sqlite_fts
from lmdsl_sqlite_fts import SqliteFTSRetriever


def test_hookimpl_registers_the_retriever():
    registered: dict[str, object] = {}

    def register(name: str, factory: object) -> None:
        assert name not in registered
        registered[name] = factory

    lmdsl_sqlite_fts.lmdsl_register_retrievers(register)
    assert registered == {"sqlite-fts": SqliteFTSRetriever}


def test_registration_through_pluggy(corpus_file):
    pm = pluggy.PluginManager("lmdsl")
    pm.add_hookspecs(hookspecs)
    pm.register(lmdsl_sqlite_fts, name="sqlite_fts")
    registered: dict[str, object] = {}
    pm.hook.lmdsl_register_retrievers(register=registered.__setitem__)
    factory = registered["sqlite-fts"]
    retriever = factory(corpus=str(corpus_file), k=1)  # how lmdsl calls a factory: factory(**options)
    assert [p.id for p in retriever("capital of Germany")] == ["berlin"]


def test_hook_is_marked_for_lmdsl():
    assert hasattr(lmdsl_sqlite_fts.lmdsl_register_retrievers, "lmdsl_impl")
    assert lmdsl.hookimpl is hookspecs.hookimpl


def test_entry_point_is_declared():
    try:
        dist = distribution("lmdsl-sqlite-fts")
    except PackageNotFoundError:
        pytest.skip("the plugin is not installed (pip install -e plugins/lmdsl-sqlite-fts)")
    eps = [ep for ep in dist.entry_points if ep.group == "lmdsl"]
    assert [(ep.name, ep.value) for ep in eps] == [("sqlite_fts", "lmdsl_sqlite_fts")]
    assert eps[0].load() is lmdsl_sqlite_fts
