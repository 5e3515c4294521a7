"""A real OpenAI-compatible server for the embedded model, for tests and benchmarks.

``llama_cpp.server`` (llama-cpp-python's ``[server]`` extra) serving the packaged SmolLM2 GGUF on a
free loopback port. It ignores SIGTERM while generating, so it is stopped with SIGKILL by its pid.

With ``binary=`` (a path to llama.cpp's own C++ ``llama-server``; ``make llama-server`` builds
one from the llama.cpp sources llama-cpp-python vendors), that server instead: it is what most
deployments run, and unlike ``llama_cpp.server`` it decodes ``parallel`` requests at once.
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
                 log: Path | None = None, binary: str | os.PathLike[str] | None = None,
                 parallel: int = 1) -> Iterator[str]:
    """Start the server; yield its base URL (``http://127.0.0.1:PORT/v1``); always kill it.

    ``binary``: llama.cpp's ``llama-server`` to run instead of ``llama_cpp.server``, with
    ``parallel`` slots of ``n_ctx`` tokens each (``llama_cpp.server`` has one)."""
    from lmdsl.lm.local import resolve_model_path

    if binary is None and not server_available():
        raise ConfigError("the served-model tests need llama-cpp-python's server: pip install 'lmdsl[server]'")
    if binary is not None and not os.access(binary, os.X_OK):
        raise ConfigError(f"llama-server binary {binary} is not an executable file (make llama-server builds one)")
    gguf = resolve_model_path("smollm2")
    port = free_port()
    name = Path(binary).name if binary is not None else "llama_cpp.server"
    if binary is not None:
        command = [str(binary), "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
                   "--ctx-size", str(n_ctx * parallel), "--parallel", str(parallel), "--threads", str(threads),
                   "--threads-batch", str(threads), "--alias", MODEL_ALIAS, "--no-webui"]
    else:
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                   "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
                   "--n_threads_batch", str(threads), "--model_alias", MODEL_ALIAS]
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(base, process, name, startup_timeout)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        if not isinstance(out, int):  # a log file, not subprocess.DEVNULL
            out.close()


def _wait_ready(base: str, process: subprocess.Popen[bytes], name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{name} exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2) as response:
                if json.loads(response.read()).get("data"):
                    return
        except OSError:  # not listening yet, or llama-server's 503 while it loads the model
            time.sleep(0.3)
    raise ServerError(f"{name} did not answer {base}/models within {timeout:.0f} s")

