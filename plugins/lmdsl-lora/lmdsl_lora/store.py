"""The content-addressed store of tuned models: ``<root>/<key>/model.gguf`` plus ``manifest.json``.

``key`` is the sha256 of (base model hash, canonical dataset JSON, training options, recipe
version), so equal inputs find the finished model instead of training again. A directory is
published with one ``rename`` of a fully written temporary directory: an interrupted run
leaves at most a ``.tmp-*`` directory, which is never read and is swept after a day.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lmdsl_lora.dataset import canonical_json
from lmdsl_lora.errors import ModelIntegrityError
from lmdsl_lora.paths import file_sha256, model_path_from_name

log = logging.getLogger(__name__)

#: bump when the training recipe or the file layout changes, so old entries stop matching
RECIPE_VERSION = 2  # 2: automatic epochs, held-back slice and early stopping
MODEL_FILE = "model.gguf"
MANIFEST_FILE = "manifest.json"
STALE_TMP_SECONDS = 24 * 3600


def cache_key(base_hash: str, rows: list[Any], options: dict[str, Any]) -> str:
    payload = {"recipe": RECIPE_VERSION, "base": base_hash, "dataset": rows, "options": options}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def lookup(entry: Path) -> Path | None:
    """The model file of a finished entry, or None. A file that fails its checksum is evicted."""
    model = entry / MODEL_FILE
    if not (model.is_file() and (entry / MANIFEST_FILE).is_file()):
        return None
    try:
        verify_model(model)
    except ModelIntegrityError as exc:
        log.warning("%s; discarding the cached entry and training again", exc)
        shutil.rmtree(entry, ignore_errors=True)
        return None
    return model


def new_tmpdir(root: Path, key: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    _sweep_stale(root)
    return Path(tempfile.mkdtemp(prefix=f".tmp-{key[:16]}-", dir=root))


def publish(tmp: Path, entry: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest, then move ``tmp`` to ``entry`` in one rename.

    If a concurrent run published the same key first, its (equivalent) entry wins and ours is dropped.
    """
    model = tmp / MODEL_FILE
    manifest = {
        **manifest,
        "model_sha256": file_sha256(model, memo=False),
        "model_bytes": model.stat().st_size,
    }
    (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    try:
        os.rename(tmp, entry)
    except OSError:
        if lookup(entry) is None:
            raise
        log.info("another run published %s first; using it", entry)
        shutil.rmtree(tmp, ignore_errors=True)
    return entry / MODEL_FILE


def read_manifest(model: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest next to a tuned model (accepts ``local/<path>`` names too)."""
    path = model_path_from_name(model)
    return json.loads((path.parent / MANIFEST_FILE).read_text(encoding="utf-8"))


def verify_model(model: str | os.PathLike[str]) -> str:
    """Return the sha256 of a tuned model file, checking it against its ``manifest.json``.

    Accepts a path or an lmdsl model name ``local/<path>``. Raises :class:`ModelIntegrityError`
    when the file is missing or its hash differs from the manifest's ``model_sha256`` (the file
    was altered or truncated after training). A file without a manifest is hashed, not checked.
    """
    path = model_path_from_name(model)
    if not path.is_file():
        raise ModelIntegrityError(f"tuned model {path} does not exist")
    digest = file_sha256(path, memo=False)
    manifest = path.parent / MANIFEST_FILE
    if manifest.is_file():
        expected = json.loads(manifest.read_text(encoding="utf-8")).get("model_sha256")
        if expected and expected != digest:
            raise ModelIntegrityError(
                f"tuned model {path} has sha256 {digest[:12]}..., its manifest says {expected[:12]}..."
            )
    return digest


def _sweep_stale(root: Path) -> None:
    now = time.time()
    for tmp in root.glob(".tmp-*"):
        try:
            if now - tmp.stat().st_mtime > STALE_TMP_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass
