"""Fixtures for the example tests: the example modules, and BM25 over the made-up corpus."""

from __future__ import annotations

import pytest
from hotpot_world import CORPUS, load_example

from lmdsl.retrievers import BM25Retriever


@pytest.fixture(scope="session")
def rag():
    return load_example("rag")


@pytest.fixture(scope="session")
def multihop():
    return load_example("multihop")


@pytest.fixture(scope="session")
def world_retriever():
    return BM25Retriever(CORPUS)
