"""Real servers for the served-model tests, each started once and always killed: ``llama_cpp.server``
(llama-cpp-python's), and llama.cpp's own C++ ``llama-server`` (``make llama-server`` builds it into
the venv; ``LMDSL_LLAMA_SERVER`` names another), which is what most deployments run."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from lmdsl.lm import probe
from lmdsl.testing_llama import llama_server, server_available


@pytest.fixture(scope="session")
def server_url():
    if not server_available():
        pytest.skip("llama-cpp-python's server extra is not installed (pip install 'lmdsl[server]')")
    with llama_server() as url:
        yield url


def llama_server_binary() -> str | None:
    """llama.cpp's ``llama-server``: $LMDSL_LLAMA_SERVER, else the one beside this Python, else on PATH."""
    named = os.environ.get("LMDSL_LLAMA_SERVER")
    if named:
        return named
    beside = Path(sys.executable).with_name("llama-server")
    return str(beside) if beside.exists() else shutil.which("llama-server")


@pytest.fixture(scope="session")
def cpp_server_url():
    binary = llama_server_binary()
    if binary is None:
        pytest.skip("llama.cpp's llama-server is not built (make llama-server, or set LMDSL_LLAMA_SERVER)")
    with llama_server(binary=binary, parallel=2) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_probe(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    probe.forget()
    yield
    probe.forget()


@pytest.fixture(params=["llama_cpp.server", "llama-server"])
def any_server(request):
    """Each server in turn, for what must hold on both."""
    return request.getfixturevalue("server_url" if request.param == "llama_cpp.server" else "cpp_server_url")
