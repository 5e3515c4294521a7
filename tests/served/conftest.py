"""One real ``llama_cpp.server`` for the served-model tests (started once, always killed)."""

from __future__ import annotations

import pytest

from lmdsl.lm import probe
from lmdsl.testing_llama import llama_server, server_available


@pytest.fixture(scope="session")
def server_url():
    if not server_available():
        pytest.skip("llama-cpp-python's server extra is not installed (pip install 'lmdsl[server]')")
    with llama_server() as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_probe(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    probe.forget()
    yield
    probe.forget()
