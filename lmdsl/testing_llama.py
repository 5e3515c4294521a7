"""A real OpenAI-compatible server for the embedded model, for tests and benchmarks.

``llama_cpp.server`` (llama-cpp-python's ``[server]`` extra) serving the packaged SmolLM2 GGUF on a
free loopback port. It ignores SIGTERM while generating, so it is stopped with SIGKILL by its pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from lmdsl.errors import ConfigError, ServerError

MODEL_ALIAS = "smollm2"


def server_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def llama_server(*, n_ctx: int = 4096, threads: int = 1, startup_timeout: float = 120.0,
                 log: Path | None = None) -> Iterator[str]:
    """Start the server; yield its base URL (``http://127.0.0.1:PORT/v1``); always kill it."""
    from lmdsl.lm.local import resolve_model_path

    if not server_available():
        raise ConfigError("the served-model tests need llama-cpp-python's server: pip install 'lmdsl[server]'")
    gguf = resolve_model_path("smollm2")
    port = free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads),
         "--model_alias", MODEL_ALIAS],
        stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(base, process, startup_timeout)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        if not isinstance(out, int):  # a log file, not subprocess.DEVNULL
            out.close()


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"llama_cpp.server exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2) as response:
                if json.loads(response.read()).get("data"):
                    return
        except OSError:
            time.sleep(0.3)
    raise ServerError(f"llama_cpp.server did not answer {base}/models within {timeout:.0f} s")
