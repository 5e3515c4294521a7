"""Calibrate on the embedded model: held-out accuracy before and after, and what the compile costs.

For SST-2 and TREC (the examples' module-level trainset, valset and held-out devset), prints
zero-shot (generated) and calibrated (scored + fitted bias) accuracy on the held-out rows,
the fitted biases, LM calls and wall time of the compile, and the time of one scored call
against one generated call side by side (a ratio: the machine is shared). Runs in a fresh
cache directory so every call reaches the model.

    python bench/calibrate.py [--tasks sentiment,trec] [--held-out 140]
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import lmdsl  # noqa: E402
from lmdsl.evaluate import Evaluate  # noqa: E402
from lmdsl.optimizers import Calibrate  # noqa: E402

PROGRAMS = {"sentiment": "Sentiment", "trec": "QuestionType"}


def run(task: str, held_out: int) -> dict[str, object]:
    module = importlib.import_module(task)
    program = getattr(module, PROGRAMS[task])()
    rows = module.devset[:held_out]
    zero_shot = Evaluate(rows, module.metric)(program)
    optimizer = Calibrate(module.metric)
    optimizer.verbose = False
    start = time.perf_counter()
    calibrated = optimizer.compile(program, trainset=module.trainset)
    compile_s = time.perf_counter() - start
    after = Evaluate(rows, module.metric)(calibrated)
    return {"task": task, "train": len(module.trainset), "held_out": len(rows), "zero_shot": zero_shot.score,
            "calibrated": after.score, "calls": optimizer.report.lm_calls, "compile_s": compile_s,
            "generate_s": zero_shot.wall_time / len(rows), "score_s": after.wall_time / len(rows),
            "bias": calibrated.classify.label_bias}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="sentiment,trec")
    parser.add_argument("--held-out", type=int, default=140)
    args = parser.parse_args()
    os.environ["LMDSL_CACHE_DIR"] = tempfile.mkdtemp(prefix="lmdsl-bench-calibrate-")
    lmdsl.configure(lm=lmdsl.LM("local/smollm2"), display_progress=False)
    results = [run(task, args.held_out) for task in args.tasks.split(",")]
    print(f"{'task':<10} {'train':>5} {'held-out':>8} {'zero-shot':>9} {'calibrated':>10} {'LM calls':>8} "
          f"{'compile s':>9} {'score/generate time':>19}")
    for r in results:
        print(f"{r['task']:<10} {r['train']:>5} {r['held_out']:>8} {r['zero_shot']:>9.1f} {r['calibrated']:>10.1f} "
              f"{r['calls']:>8} {r['compile_s']:>9.1f} {r['score_s'] / r['generate_s']:>18.2f}x")
    for r in results:
        print(f"{r['task']} bias: " + ", ".join(f"{k} {v:+.2f}" for k, v in r["bias"].items()))


if __name__ == "__main__":
    main()
