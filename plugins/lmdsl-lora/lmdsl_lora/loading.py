"""Load the base model into float32 torch, caching a float copy of a GGUF base.

transformers dequantizes a GGUF in about 15 s (tokenizer 4 s, model 12 s) on this class of
machine; reloading a saved float32 copy takes under 2 s. The copy is written once per base
file hash under ``<root>/base/<sha256>/`` (about 540 MB for SmolLM2-135M), atomically.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lmdsl_lora.paths import BaseModel


def load_base(base: BaseModel, base_hash: str, root: Path, *, progress: bool = True) -> tuple[Any, Any]:
    """Return ``(model, tokenizer)`` in float32, ready for peft."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if base.kind == "hf":
        src = base.path
    else:
        src = root / "base" / base_hash
        if not (src / "config.json").is_file():
            with _quiet_gguf_bar(not progress):
                _write_float_copy(base, src)
    tokenizer = AutoTokenizer.from_pretrained(src)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    return model, tokenizer


@contextlib.contextmanager
def _quiet_gguf_bar(quiet: bool) -> Iterator[None]:
    """Silence transformers' GGUF de-quantizing bar, which ignores ``disable_progress_bar()``."""
    from transformers import modeling_gguf_pytorch_utils as mod

    original = getattr(mod, "tqdm", None)
    if not quiet or original is None:
        yield
        return
    mod.tqdm = functools.partial(original, disable=True)  # type: ignore[assignment]  # silencing its bar
    try:
        yield
    finally:
        mod.tqdm = original


def _write_float_copy(base: BaseModel, dest: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory, filename = str(base.path.parent), base.path.name
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=filename)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=filename, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained ("quantized with gguf and is not serializable")
    # although its weights are already plain float32; dropping the quantizer marker lets it save.
    model.hf_quantizer = None  # type: ignore[assignment]  # transformers types it as always set
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name[:16]}-", dir=dest.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not (dest / "config.json").is_file():  # not a lost race with a concurrent writer
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
