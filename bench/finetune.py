"""BootstrapFinetune on SST-2, side by side: train size x balancing x teacher, scored on unseen rows.

    nice -n 10 python bench/finetune.py [--sizes 100,200,300] [--balance oversample,cut]
        [--teachers calibrated,zero-shot] [--lr 5e-4] [--out results.jsonl]

For every cell, ``BootstrapFinetune`` (finetuner ``lora`` from plugins/lmdsl-lora) compiles
``examples/sentiment.py:Sentiment`` on the first N rows of ``examples/data/sst2_train.jsonl``,
with dev[:60] as the optimizer's valset, and the tuned program is scored on dev[60:] (140
sentences no optimizer ever sees). Teachers:

* ``zero-shot``: the program as given (``teacher=None``);
* ``calibrated``: ``Calibrate`` compiled on the same N train rows (one scoring pass; what the
  optimizer's default ``teacher="auto"`` does for this uncompiled label program; the
  "compiled teacher" of the acceptance table);
* ``few-shot``: ``BootstrapFewShotWithRandomSearch`` (4 candidates) on the same rows.

Columns: passing runs per answer, training examples kept, epochs/steps the schedule chose
(and whether early stopping ended the run), training seconds, valset and held-out accuracy.
Cells are run in the order given (sizes outermost), each result is appended to ``--out`` as
soon as it is known, and the LM cache (teacher runs, evaluations) and the LoRA store are
the normal ones, so a re-run only trains what changed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import lmdsl  # noqa: E402
from lmdsl.data import load_jsonl  # noqa: E402
from lmdsl.evaluate import Evaluate, exact_match  # noqa: E402
from lmdsl.optimizers import BootstrapFewShotWithRandomSearch, BootstrapFinetune, Calibrate  # noqa: E402

DATA = ROOT / "examples" / "data"


def teacher_for(kind: str, program: Any, train: list[Any], val: list[Any], cache: dict[tuple[str, int], Any]) -> Any:
    key = (kind, len(train))
    if kind == "zero-shot":
        return None
    if key not in cache:
        if kind == "calibrated":
            optimizer: Any = Calibrate(exact_match)
        elif kind == "few-shot":
            optimizer = BootstrapFewShotWithRandomSearch(exact_match, num_candidate_programs=4, num_threads=1)
        else:
            raise SystemExit(f"unknown teacher {kind!r}: zero-shot, calibrated or few-shot")
        cache[key] = optimizer.compile(program, trainset=train, valset=val)
    return cache[key]


def manifest_of(model: str) -> dict[str, Any]:
    path = Path(model.removeprefix("local/")).with_name("manifest.json")
    return json.loads(path.read_text()) if path.is_file() else {}


def run_cell(size: int, balance: str, teacher_kind: str, lr: float | None, max_steps: int | None, data: dict[str, list[Any]],
             teachers: dict[tuple[str, int], Any]) -> dict[str, Any]:
    from sentiment import Sentiment

    train = data["train"][:size]
    teacher = teacher_for(teacher_kind, Sentiment(), train, data["val"], teachers)
    options: dict[str, Any] = {"learning_rate": lr} if lr is not None else {}
    if max_steps:
        options["max_steps"] = max_steps
    optimizer = BootstrapFinetune(exact_match, teacher=teacher, balance=balance, num_threads=1, **options)
    started = time.perf_counter()
    student = optimizer.compile(Sentiment(), trainset=train, valset=data["val"])
    wall = time.perf_counter() - started
    details = optimizer.report.candidates[-1].details
    manifest = manifest_of(next(iter(details["models"].values())))
    held_out = Evaluate(data["test"], exact_match, num_threads=1, display_progress=False)(student)
    return {
        "train rows": size, "balance": balance, "teacher": teacher_kind, "lr": lr or 5e-4,
        "passed": details["answers"].get("passed"), "kept": details["answers"].get("kept"),
        "examples": sum(details["examples_kept"].values()),
        "epochs": manifest.get("epochs"), "steps": manifest.get("steps"),
        "planned steps": manifest.get("planned_steps"), "stopped early": manifest.get("stopped_early"),
        "held back": manifest.get("examples_held_back"),
        "training s": details["training_seconds"], "compile wall s": round(wall, 1),
        "valset": optimizer.report.candidates[-1].score, "held-out": held_out.score,
        "model": details["models"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,200,300")
    parser.add_argument("--balance", default="oversample,cut")
    parser.add_argument("--teachers", default="zero-shot,calibrated")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: the finetuner's)")
    parser.add_argument("--max-steps", type=int, default=None, help="cap training steps (a quick smoke run)")
    parser.add_argument("--out", type=Path, default=None, help="append one JSON line per cell")
    args = parser.parse_args()

    lmdsl.configure(lm=lmdsl.LM("local/smollm2"), display_progress=False, num_threads=1)
    dev = load_jsonl(DATA / "sst2_dev.jsonl", inputs=["text"])
    data = {"train": load_jsonl(DATA / "sst2_train.jsonl", inputs=["text"]), "val": dev[:60], "test": dev[60:]}
    from sentiment import Sentiment

    zero = Evaluate(data["test"], exact_match, num_threads=1, display_progress=False)(Sentiment()).score
    print(f"zero-shot program on dev[60:] ({len(data['test'])} sentences): {zero:.1f}", flush=True)
    teachers: dict[tuple[str, int], Any] = {}
    results = []
    for size in map(int, args.sizes.split(",")):
        for teacher in args.teachers.split(","):
            for balance in args.balance.split(","):
                result = run_cell(size, balance, teacher, args.lr, args.max_steps, data, teachers)
                if teacher != "zero-shot":
                    compiled = teachers[(teacher, size)]
                    result["teacher held-out"] = Evaluate(data["test"], exact_match, num_threads=1,
                                                          display_progress=False)(compiled).score
                result["zero-shot held-out"] = zero
                result["load average"] = round(os.getloadavg()[0], 1)
                results.append(result)
                print(json.dumps(result), file=sys.stderr, flush=True)
                if args.out:
                    with args.out.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(result) + "\n")
    print(f"{'rows':>4} {'teacher':<10} {'balance':<10} {'passed (pos/neg)':>16} {'examples':>8} "
          f"{'epochs':>6} {'steps':>9} {'train s':>7} {'valset':>6} {'held-out':>8}")
    for r in results:
        passed = r["passed"] or {}
        pos_neg = f"{passed.get('label=positive', 0)}/{passed.get('label=negative', 0)}"
        steps = f"{r['steps']}/{r['planned steps']}" + ("*" if r["stopped early"] else "")
        print(f"{r['train rows']:>4} {r['teacher']:<10} {r['balance']:<10} {pos_neg:>16} {r['examples']:>8} "
              f"{r['epochs']!s:>6} {steps:>9} {r['training s']:>7.0f} {r['valset']:>6.1f} {r['held-out']:>8.1f}")
    print("steps: trained/planned, * = stopped early on the held-back slice; held-out = dev[60:]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
