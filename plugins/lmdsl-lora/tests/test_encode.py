"""Only assistant tokens (reply, end-of-turn marker) are learned; the rest is masked."""

from __future__ import annotations

import pytest

from lmdsl_lora.encode import IGNORE, encode

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tokenizer(trained, store_root):
    from transformers import AutoTokenizer

    (float_copy,) = (store_root / "base").iterdir()  # written by the session's training run
    return AutoTokenizer.from_pretrained(float_copy)


def learned(tokenizer, messages) -> str:
    enc = encode(tokenizer, messages)
    return tokenizer.decode([t for t in enc.labels if t != IGNORE])


def test_labels_cover_only_the_assistant_reply(tokenizer, dataset):
    messages = dataset[0]["messages"]
    enc = encode(tokenizer, messages)
    assert enc.input_ids == list(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False))
    assert learned(tokenizer, messages).strip() == "positive<|im_end|>"


def test_multi_turn_and_weight_zero(tokenizer):
    messages = [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "five", "weight": 0},
        {"role": "user", "content": "Sure?"},
        {"role": "assistant", "content": "four"},
    ]
    assert learned(tokenizer, messages).strip() == "four<|im_end|>"
    messages[1]["weight"] = 1
    assert learned(tokenizer, messages).replace("\n", "") == "five<|im_end|>four<|im_end|>"
