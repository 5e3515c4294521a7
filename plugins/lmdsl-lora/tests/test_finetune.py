"""A real LoRA run on the embedded model: a valid GGUF that llama.cpp answers with, and the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lmdsl_lora.finetune as ft
from lmdsl_lora import finetune_lora, verify_model
from lmdsl_lora.errors import DatasetError

pytestmark = pytest.mark.integration


def test_returns_a_valid_gguf_in_the_store(trained, store_root):
    assert trained.startswith("local//")
    path = Path(trained.removeprefix("local/"))
    assert path.name == "model.gguf" and path.parent.parent == store_root
    assert len(path.parent.name) == 64
    assert path.read_bytes()[:4] == b"GGUF"
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert manifest["model_sha256"] == verify_model(path)
    assert manifest["dataset_size"] == 24 and manifest["steps"] == 3
    assert manifest["examples_held_back"] == 2 and manifest["examples_trained"] == 22
    assert [step for step, _ in manifest["heldout_losses"]] == [3] and manifest["best_step"] == 3
    assert manifest["epochs"] == 8 and manifest["planned_steps"] == 3  # 22 rows: 8 epochs, capped by max_steps
    assert manifest["base_model"] == "local/smollm2"
    assert manifest["training_seconds"] > 0 and manifest["conversion_seconds"] > 0
    assert not list(store_root.glob(".tmp-*"))


def test_llama_cpp_loads_it_and_answers(trained, dataset):
    llama_cpp = pytest.importorskip("llama_cpp")
    llm = llama_cpp.Llama(model_path=trained.removeprefix("local/"), verbose=False, n_ctx=512)
    messages = [*dataset[0]["messages"][:1], {"role": "user", "content": "Sentence: an absolute triumph"}]
    reply = llm.create_chat_completion(messages=messages, temperature=0, max_tokens=8)
    assert reply["choices"][0]["message"]["content"].strip()


def test_second_call_is_a_cache_hit_without_loading_or_training(
    trained, store_root, dataset, monkeypatch, capsys
):
    def boom(*args, **kwargs):
        raise AssertionError("a cache hit must not load or train")

    monkeypatch.setattr(ft, "load_base", boom)
    monkeypatch.setattr(ft, "train_lora", boom)
    again = finetune_lora(dataset, "local/smollm2", max_steps=3, output_dir=store_root, progress=True)
    assert again == trained
    assert "cache hit" in capsys.readouterr().err


def test_other_options_miss_the_cache_and_an_interrupted_run_leaves_nothing(
    trained, store_root, dataset, monkeypatch
):
    before = sorted(p.name for p in store_root.iterdir())

    def interrupted(base_gguf, new, dest, quantization):
        dest.write_bytes(b"GGUF half written")
        raise KeyboardInterrupt

    monkeypatch.setattr(ft, "write_from_base_gguf", interrupted)
    with pytest.raises(KeyboardInterrupt):
        finetune_lora(dataset, "local/smollm2", max_steps=1, seed=1, output_dir=store_root, progress=False)
    assert sorted(p.name for p in store_root.iterdir()) == before


def test_rows_longer_than_max_length_are_skipped(trained, store_root, dataset, monkeypatch):
    monkeypatch.setattr(
        ft, "train_lora", lambda *a, **k: (_ for _ in ()).throw(AssertionError("not reached"))
    )
    with pytest.raises(DatasetError, match="no row fits max_length=8"):
        finetune_lora(dataset, "local/smollm2", max_length=8, output_dir=store_root, progress=False)


def test_bad_options_fail_before_any_work(dataset, tmp_path):
    with pytest.raises(ValueError, match="rank must be"):
        finetune_lora(dataset, "local/smollm2", rank=0, output_dir=tmp_path)
    with pytest.raises(Exception, match="quantization 'q2_k' is not one of"):
        finetune_lora(dataset, "local/smollm2", quantization="q2_k", output_dir=tmp_path)
    assert not any(tmp_path.iterdir())
