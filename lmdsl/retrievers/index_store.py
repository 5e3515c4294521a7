"""Crash-safe directories for cached indexes: build aside, rename into place, verify, sweep.

Generic on purpose (nothing BM25-specific), so the rules that keep a cache trustworthy are
written once: a build happens in a temp directory and appears under its final name in one
``rename``; a damaged index is renamed away before it is deleted, so no reader ever sees it
half-gone; leftovers of killed builds are swept after an hour.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

STALE_SECONDS = 3600


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def new_build_dir(root: Path, key: str) -> Path:
    """A fresh temp directory beside the final one (same filesystem, so rename is atomic)."""
    root.mkdir(parents=True, exist_ok=True)
    sweep_stale(root)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key[:12]}-", dir=root))
    os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide a shared cache from other users
    return tmp


def publish(tmp: Path, final: Path, *, replace: bool) -> bool:
    """Rename ``tmp`` to ``final``; True when ours is now in place.

    ``replace`` removes an existing ``final`` first (one found damaged). Otherwise an existing
    ``final`` means another process or thread finished the same build first: theirs is kept
    and False returned, and the caller deletes ``tmp``.
    """
    if replace:
        discard(final)
    try:
        os.rename(tmp, final)
    except OSError:
        if not os.path.lexists(final):
            raise
        return False
    return True


def corpus_id(path: Path | None) -> str | None:
    return os.path.abspath(path) if path is not None else None


def prune_stale_versions(root: Path, corpus: str | None, fingerprint: str, meta_name: str) -> None:
    """Delete indexes built from older contents of this corpus file (same path, other fingerprint).

    Indexes of the current contents with other options are kept: two retrievers over one
    corpus with different stemmers must not evict each other.
    """
    if corpus is None:
        return
    for entry in root.iterdir():
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        try:
            meta = json.loads((entry / meta_name).read_text(encoding="utf-8"))
            stale = meta.get("corpus") == corpus and meta["options"]["fingerprint"] != fingerprint
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if stale:
            discard(entry)


def discard(path: Path) -> None:
    """Remove a directory by first renaming it, so no reader ever sees it half-deleted."""
    trash = path.with_name(f".trash-{path.name}-{os.getpid()}-{threading.get_ident()}")
    try:
        os.rename(path, trash)
    except OSError:
        trash = path
    if trash.is_dir() and not trash.is_symlink():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        trash.unlink(missing_ok=True)


def sweep_stale(root: Path) -> None:
    """Delete temp and trash directories left by builds that were killed an hour or more ago."""
    cutoff = time.time() - STALE_SECONDS
    for entry in root.iterdir():
        if entry.name.startswith((".tmp-", ".trash-")):
            try:
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                pass
