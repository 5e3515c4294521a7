"""Where lmdsl keeps its caches on disk."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "LMDSL_CACHE_DIR"


def cache_root() -> Path:
    """lmdsl's cache root: ``$LMDSL_CACHE_DIR``, else ``$XDG_CACHE_HOME/lmdsl``, else ``~/.cache/lmdsl``.

    An environment variable (rather than a setting) so that tests, CI and the CLI can point
    every cache -- LM replies, indexes, sandbox snapshots, tuned models -- at a scratch
    directory without touching code. Read at each call: tests move it per test.
    """
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "lmdsl"
