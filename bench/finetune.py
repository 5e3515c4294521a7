"""Benchmark the ``lora`` finetuner on SST-2: training cost, GGUF cost, serving speed, accuracy.

    python bench/finetune.py [--train N] [--dev M] [--epochs E] [--store DIR] [--threads T] [--json]

Builds chat rows (system: instructions, user: ``Sentence: ...``, assistant: the label) from
the first N rows of ``sst2_train.jsonl``, tunes the embedded SmolLM2-135M with
``lmdsl_lora.finetune_lora`` and scores the first M dev sentences before and after, through
llama.cpp, two ways:

* grammar: decoding constrained to ``positive | negative`` (every reply is a label);
* first word: free decoding (max 4 tokens), the reply's first word must be the label
  (what an un-tuned chat model mostly fails at: it answers "The sentiment of ...").

The store defaults to a temporary directory, so the run really trains (pass ``--store`` to
reuse a tuned model). Needs lmdsl-lora and llama-cpp-python in the same environment.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("LMDSL_SHARED_DATA", ROOT.parent / "shared" / "data"))

SYSTEM = (
    "Classify the sentiment of the movie review sentence. Answer with exactly one word: positive or negative."
)
LABELS = ("positive", "negative")
GRAMMAR = 'root ::= "positive" | "negative"'


def load_rows(path: Path, n: int) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows


def prompt(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Sentence: {text}"}]


def chat_row(row: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [*prompt(row["text"]), {"role": "assistant", "content": row["label"]}]}


def first_word(reply: str) -> str:
    match = re.match(r"\W*(\w+)", reply.lower())
    return match.group(1) if match else ""


def score(model_path: str, dev: list[dict[str, Any]], threads: int) -> dict[str, float]:
    """Accuracy both ways and calls per second (model load excluded)."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model_path, n_ctx=512, n_threads=threads, verbose=False, seed=0)
    grammar = llama_cpp.LlamaGrammar.from_string(GRAMMAR, verbose=False)
    out: dict[str, float] = {}
    for mode in ("grammar", "first word"):
        correct, started = 0, time.perf_counter()
        for row in dev:
            # the grammar may spell a label in several sub-word tokens: leave room for them
            kwargs = {"grammar": grammar, "max_tokens": 8} if mode == "grammar" else {"max_tokens": 4}
            reply = llm.create_chat_completion(messages=prompt(row["text"]), temperature=0, **kwargs)
            correct += first_word(reply["choices"][0]["message"]["content"] or "") == row["label"]
        elapsed = time.perf_counter() - started
        out[f"{mode} acc"] = correct / len(dev)
        out[f"{mode} calls/s"] = len(dev) / elapsed
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=200, help="training rows (default 200)")
    parser.add_argument("--dev", type=int, default=100, help="dev sentences scored (default 100)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--store", type=Path, help="store directory (default: a fresh temporary one)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch and llama.cpp threads (default: idle cores)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args()

    from lmdsl_lora import finetune_lora, read_manifest
    from lmdsl_lora.finetune import default_threads
    from lmdsl_lora.paths import embedded_gguf

    threads = args.threads or default_threads()
    train = load_rows(DATA / "sst2_train.jsonl", args.train)
    dev = load_rows(DATA / "sst2_dev.jsonl", args.dev)
    dataset = [chat_row(r) for r in train]

    before = score(str(embedded_gguf()), dev, threads)
    with tempfile.TemporaryDirectory(prefix="lmdsl-lora-bench-") as tmp:
        store = args.store or Path(tmp)
        started = time.perf_counter()
        name = finetune_lora(dataset, "local/smollm2", epochs=args.epochs, output_dir=store, threads=threads)
        wall = time.perf_counter() - started
        manifest = read_manifest(name)
        after = score(name.removeprefix("local/"), dev, threads)

    train_s = manifest["training_seconds"]
    figures = {
        "train rows": len(train),
        "epochs": args.epochs,
        "steps": manifest["steps"],
        "threads": threads,
        "epoch losses": manifest["epoch_losses"],
        "base load s": manifest["load_seconds"],
        "training s": train_s,
        "training s/example": train_s / (len(train) * args.epochs),
        "training s/epoch": train_s / args.epochs,
        "conversion s": manifest["conversion_seconds"],
        "finetune wall s": wall,
        "model MB": manifest["model_bytes"] / 1e6,
        "load average": os.getloadavg()[0],
        "dev sentences": len(dev),
        "before": before,
        "after": after,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"LoRA r=8 q/k/v/o on SmolLM2-135M, {len(train)} SST-2 rows x {args.epochs} epochs "
        f"({manifest['steps']} steps of 4), {threads} threads, load average {figures['load average']:.1f}"
    )
    print(f"{'cost':<24}{'value':>12}")
    for key in (
        "base load s",
        "training s",
        "training s/example",
        "training s/epoch",
        "conversion s",
        "finetune wall s",
        "model MB",
    ):
        print(f"{key:<24}{figures[key]:>12.2f}")
    print(f"{'epoch losses':<24}{', '.join(f'{x:.3f}' for x in manifest['epoch_losses']):>12}")
    print()
    print(f"{'dev (' + str(len(dev)) + ' sentences)':<24}{'before':>10}{'after':>10}")
    for key in ("grammar acc", "first word acc", "grammar calls/s", "first word calls/s"):
        fmt = "{:>10.0%}" if key.endswith("acc") else "{:>10.2f}"
        print(f"{key:<24}" + fmt.format(before[key]) + fmt.format(after[key]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
