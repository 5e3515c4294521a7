"""Dataset validation names the row, the message and the key; the canonical form ignores extras."""

from __future__ import annotations

import re

import pytest

from lmdsl_lora.dataset import dataset_sha256, validate_dataset
from lmdsl_lora.errors import DatasetError


def row(*pairs: tuple[str, str], **extra) -> dict:
    return {"messages": [{"role": r, "content": c} for r, c in pairs], **extra}


def test_valid_rows_are_canonicalised(dataset):
    rows = validate_dataset(dataset)
    assert len(rows) == len(dataset) == 24
    assert rows[0][2] == {"role": "assistant", "content": "positive"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "dataset is empty"),
        ({"messages": []}, "must be a list of rows"),
        ("rows.jsonl", "must be a list of rows"),
        ([["user", "hi"]], "row 0: expected a dict"),
        ([{"msgs": []}], "row 0: missing key 'messages'"),
        ([{"messages": []}], "row 0: 'messages' must be a non-empty list"),
        ([{"messages": [{"role": "user"}]}], "row 0, message 0: missing key 'content'"),
        ([{"messages": [{"content": "x"}]}], "row 0, message 0: missing key 'role'"),
        ([row(("user", "a"), ("bot", "b"))], "row 0, message 1: role 'bot' is not one of"),
        ([{"messages": [{"role": "user", "content": 3}]}], "'content' must be a string"),
        ([row(("system", "s"))], "row 0: only a system message"),
        ([row(("assistant", "a"))], "message 0 has role 'assistant' first, expected 'user'"),
        ([row(("user", "a"), ("user", "b"))], "message 1 has role 'user' after 'user', expected 'assistant'"),
        ([row(("user", "a"), ("assistant", "b"), ("system", "c"))], "message 2 has role 'system'"),
        ([row(("system", "s"), ("user", "a"))], "row 0: the last message has role 'user'"),
    ],
)
def test_malformed_rows_are_named(data, message):
    with pytest.raises(DatasetError, match=re.escape(message)):
        validate_dataset(data)


def test_error_names_the_offending_row(dataset):
    dataset[5]["messages"][1] = {"role": "user"}
    with pytest.raises(DatasetError, match="row 5, message 1: missing key 'content'"):
        validate_dataset(dataset)


def test_weight_only_on_assistant_and_zero_everywhere_is_refused():
    with pytest.raises(DatasetError, match="'weight' is only allowed on assistant"):
        validate_dataset([{"messages": [{"role": "user", "content": "a", "weight": 0}]}])
    zero = {
        "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 0}]
    }
    with pytest.raises(DatasetError, match="nothing to learn"):
        validate_dataset([zero])


def test_hash_ignores_keys_training_does_not_read(dataset):
    noisy = [
        {**r, "id": i, "messages": [{**m, "name": "x"} for m in r["messages"]]} for i, r in enumerate(dataset)
    ]
    assert dataset_sha256(validate_dataset(noisy)) == dataset_sha256(validate_dataset(dataset))
    dataset[0]["messages"][2]["content"] = "negative"
    assert dataset_sha256(validate_dataset(noisy)) != dataset_sha256(validate_dataset(dataset))
