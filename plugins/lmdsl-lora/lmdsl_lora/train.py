"""The LoRA training loop: plain torch AdamW with warm-up and linear decay, loss on assistant tokens.

With a held-back slice (see ``schedule.py``) the loss on it is measured about eight times per
run; training stops after ``patience`` measurements without a new best, and the adapter
weights of the best measurement are the ones merged.

A hand-written loop instead of ``transformers.Trainer`` because it is 60 lines, has no
hidden defaults (logging dirs, evaluation, mixed precision guesses) and reports progress the
way lmdsl does: one bar on stderr.
"""

from __future__ import annotations

import math
import random
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

from lmdsl_lora.encode import IGNORE, Encoded
from lmdsl_lora.schedule import EarlyStopping, eval_interval


@dataclass
class TrainConfig:
    epochs: int
    learning_rate: float
    rank: int
    alpha: int
    dropout: float
    batch_size: int
    max_steps: int | None
    target_modules: tuple[str, ...]
    seed: int
    patience: int = 2


@dataclass
class TrainResult:
    steps: int
    trainable_parameters: int
    epoch_losses: list[float] = field(default_factory=list)
    changed_modules: list[str] = field(default_factory=list)
    heldout_losses: list[tuple[int, float]] = field(default_factory=list)
    best_step: int | None = None
    stopped_early: bool = False


def plan_steps(n_examples: int, cfg: TrainConfig) -> int:
    per_epoch = math.ceil(n_examples / cfg.batch_size)
    total = per_epoch * cfg.epochs
    return min(total, cfg.max_steps) if cfg.max_steps is not None else total


def lr_factor(step: int, total: int) -> float:
    """Linear warm-up over min(10, total/10) steps, then linear decay to zero at ``total``."""
    warmup = max(1, min(10, total // 10))
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def train_lora(
    model: Any,
    examples: list[Encoded],
    cfg: TrainConfig,
    *,
    progress: bool,
    holdout: list[Encoded] | None = None,
) -> tuple[Any, TrainResult]:
    """Train a LoRA adapter on ``model`` in place, merge it, and return the merged model.

    ``holdout`` (rows never trained on) enables early stopping and best-weights selection.

    ``changed_modules`` names the merged model's modules whose weights now differ from the base
    (their ``.weight`` is what the GGUF writer re-quantizes; everything else is copied verbatim).
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from tqdm.auto import tqdm

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    lora = LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=list(cfg.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():
        # peft probes a transformers attribute that transformers 5 deprecates; not ours to fix
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        peft_model = get_peft_model(model, lora)
    prefix = "base_model.model."
    changed = sorted(
        n.removeprefix(prefix) for n, m in peft_model.named_modules() if hasattr(m, "lora_A") and n
    )
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    result = TrainResult(
        steps=0, trainable_parameters=sum(p.numel() for p in trainable), changed_modules=changed
    )

    total = plan_steps(len(examples), cfg)
    optimizer = torch.optim.AdamW(trainable, lr=cfg.learning_rate, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total))
    pad_id = _pad_id(model)
    stopper = EarlyStopping(patience=cfg.patience) if holdout else None
    every = eval_interval(total)
    best_state: dict[str, Any] | None = None

    def measure() -> bool:
        """Held-back loss now; True when training should stop."""
        nonlocal best_state
        assert stopper is not None and holdout is not None
        loss = _mean_loss(peft_model, holdout, cfg.batch_size, pad_id)
        if stopper.update(result.steps, loss):
            best_state = {n: p.detach().clone() for n, p in peft_model.named_parameters() if p.requires_grad}
        bar.set_postfix(loss=f"{losses[-1]:.3f}" if losses else "-", heldout=f"{loss:.3f}")
        return stopper.should_stop

    losses: list[float] = []
    peft_model.train()
    bar = tqdm(
        total=total, desc="lora", unit="step", file=sys.stderr, disable=not progress, dynamic_ncols=True
    )
    try:
        for _epoch in range(cfg.epochs):
            order = list(range(len(examples)))
            rng.shuffle(order)
            losses = []
            for start in range(0, len(order), cfg.batch_size):
                if result.steps >= total:
                    break
                batch = _collate([examples[i] for i in order[start : start + cfg.batch_size]], pad_id)
                loss = peft_model(**batch).loss
                loss.backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                result.steps += 1
                losses.append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
                if stopper and (result.steps % every == 0 or result.steps == total) and measure():
                    result.stopped_early = result.steps < total
                    break
            if losses:
                result.epoch_losses.append(sum(losses) / len(losses))
            if result.steps >= total or result.stopped_early:
                break
    finally:
        bar.close()
    if stopper is not None:
        if not stopper.history or stopper.history[-1][0] != result.steps:  # last steps not measured yet
            measure()
        result.heldout_losses = [(s, round(v, 5)) for s, v in stopper.history]
        result.best_step = stopper.best_step
        if best_state is not None and stopper.best_step != result.steps:
            _restore(peft_model, best_state)
    peft_model.eval()
    merged = peft_model.merge_and_unload()
    return merged, result


def _mean_loss(model: Any, rows: list[Encoded], batch_size: int, pad_id: int) -> float:
    """Mean per-row loss over ``rows`` without dropout or gradients."""
    import torch

    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            total += float(model(**_collate(batch, pad_id)).loss) * len(batch)
    model.train()
    return total / len(rows)


def _restore(model: Any, state: dict[str, Any]) -> None:
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in state:
                param.copy_(state[name])


def _pad_id(model: Any) -> int:
    cfg = model.config
    for candidate in (getattr(cfg, "pad_token_id", None), getattr(cfg, "eos_token_id", None)):
        if isinstance(candidate, list):
            candidate = candidate[0] if candidate else None
        if candidate is not None:
            return int(candidate)
    return 0


def _collate(batch: list[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-pad to the longest row; padding is masked out of attention and loss."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
