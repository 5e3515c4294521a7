from __future__ import annotations

import dataclasses

import pytest

from lmdsl.errors import ConfigError
from lmdsl.retrievers import BatchRetriever, Passage, Retriever, check_k, retrieve_batch


def test_long_text_with_and_without_title():
    assert Passage(text="body", title="Head").long_text == "Head | body"
    assert Passage(text="body").long_text == "body"
    assert str(Passage(text="body", title="Head")) == "Head | body"


def test_to_dict_round_trip():
    p = Passage(text="t", title="T", id="7", score=1.5)
    assert p.to_dict() == {"text": "t", "title": "T", "id": "7", "score": 1.5}
    assert Passage.from_dict(p.to_dict()) == p
    assert Passage.from_dict({"text": "t", "extra": 1}) == Passage(text="t")


def test_passage_is_frozen_and_hashable():
    p = Passage(text="t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.text = "u"  # type: ignore[misc]
    assert len({p, Passage(text="t")}) == 1


def test_protocols_and_retrieve_batch_fallback():
    def plain(query: str, k: int) -> list[Passage]:
        return [Passage(text=query)] * k

    class WithBatch:
        def __call__(self, query: str, k: int) -> list[Passage]:
            raise AssertionError("batch() should be used")

        def batch(self, queries, k):
            return [[Passage(text=q)] for q in queries]

    assert isinstance(plain, Retriever)
    assert isinstance(WithBatch(), BatchRetriever)
    assert retrieve_batch(plain, ["a", "b"], 2) == [[Passage("a")] * 2, [Passage("b")] * 2]
    assert retrieve_batch(WithBatch(), ["a"], 5) == [[Passage("a")]]


@pytest.mark.parametrize(("k", "expected"), [(0, 0), (5, 5), ("5", 5), (3.0, 3)])
def test_check_k_accepts_whole_numbers(k, expected):
    assert check_k(k) == expected


@pytest.mark.parametrize("k", [-1, True, 2.5, "five", None])
def test_check_k_refuses_the_rest_by_name(k):
    with pytest.raises(ConfigError, match=f"k must be a non-negative integer, got {k!r}"):
        check_k(k)
