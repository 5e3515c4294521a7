"""The hook registers the retriever under "qdrant", directly, through pluggy and by entry point."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution

import lmdsl
import pluggy
import pytest
from lmdsl import hookspecs
from lmdsl.plugins import PluginManager, set_plugin_manager
from qdrant_data import HashingEmbedder

import lmdsl_qdrant
from lmdsl_qdrant import QdrantRetriever


def test_hookimpl_registers_the_retriever():
    registered: dict[str, object] = {}
    lmdsl_qdrant.lmdsl_register_retrievers(registered.__setitem__)
    assert registered == {"qdrant": QdrantRetriever}
    assert hasattr(lmdsl_qdrant.lmdsl_register_retrievers, "lmdsl_impl")


def test_get_retriever_by_name(corpus_file):
    previous = set_plugin_manager(PluginManager(load_entrypoints=False))
    try:
        lmdsl.plugin_manager().add(lmdsl_qdrant, name="qdrant")
        retriever = lmdsl.get_retriever("qdrant", corpus=str(corpus_file), embedder=HashingEmbedder(), k=1,
                                        progress=False)
        with retriever:
            assert [p.id for p in retriever("capital of Germany")] == ["berlin"]
    finally:
        set_plugin_manager(previous)


def test_registration_through_pluggy():
    pm = pluggy.PluginManager("lmdsl")
    pm.add_hookspecs(hookspecs)
    pm.register(lmdsl_qdrant, name="qdrant")
    registered: dict[str, object] = {}
    pm.hook.lmdsl_register_retrievers(register=registered.__setitem__)
    assert registered["qdrant"] is QdrantRetriever


def test_entry_point_is_declared():
    try:
        dist = distribution("lmdsl-qdrant")
    except PackageNotFoundError:
        pytest.skip("the plugin is not installed (pip install -e plugins/lmdsl-qdrant)")
    eps = [ep for ep in dist.entry_points if ep.group == "lmdsl"]
    assert [(ep.name, ep.value) for ep in eps] == [("qdrant", "lmdsl_qdrant")]
    assert eps[0].load() is lmdsl_qdrant
