"""Finding Ray and a cluster: the lazy import with its install hint, and connecting with one clear line."""

from __future__ import annotations

import atexit
import logging
import os
import socket
from pathlib import Path
from typing import Any

from lmdsl.errors import ConfigError

INSTALL_HINT = "pip install 'lmdsl[ray]'"


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"the ray executor needs Ray, which is not installed: {INSTALL_HINT} "
                          f"({type(exc).__name__}: {exc})") from None
    return ray


def connect(address: str | None, *, runtime_env: dict[str, Any] | None = None,
            num_cpus: int | None = None) -> tuple[Any, bool]:
    """``(ray, started_here)``: the running connection if there is one, a cluster at ``address``
    (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``), or with no address a local instance sized to
    this machine (or to ``num_cpus``), shut down when this process exits."""
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    quiet: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
             "configure_logging": True}
    if runtime_env:
        quiet["runtime_env"] = runtime_env
    if not address or address == "local":
        ray.init(num_cpus=num_cpus, **quiet)
        atexit.register(_shutdown, ray)
        return ray, True
    if address != "auto" and not address.startswith("ray://"):
        _check_reachable(address)
        _use_token_if_available()
    try:
        ray.init(address=address, **quiet)
    except Exception as exc:  # ConnectionError, a refused token, a version mismatch...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"ray executor: cannot connect to the Ray cluster at {address!r}: {first} "
                          "(start one with `ray start --head`, or leave out --ray-address to start a "
                          "local instance)") from None
    return ray, False


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail in seconds, not minutes: Ray retries an unreachable GCS for a long time before giving up."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"ray executor: --ray-address must be auto, HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"ray executor: no Ray cluster answers at {address} ({reason}); start one with "
                          "`ray start --head --port PORT` or leave out --ray-address to start a local instance") \
            from None


def _use_token_if_available() -> None:
    """``ray.init(address=HOST:PORT)`` leaves token authentication off unless told, although
    ``ray start --head`` turns it on and ``ray.init("auto")`` finds the token: behave like "auto"."""
    if os.environ.get("RAY_AUTH_MODE"):
        return
    token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or token_file.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def _shutdown(ray: Any) -> None:
    try:
        if ray.is_initialized():
            ray.shutdown()
    except Exception:
        pass
