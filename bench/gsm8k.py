"""GSM8K on the embedded model: CoT zero-shot vs compiled vs ProgramOfThought.

    python bench/gsm8k.py [--dev 30] [--train 12] [--val 10] [--candidates 1] [--json]

Runs ``examples/gsm8k.py`` on SmolLM2-135M (``local/smollm2``, llama.cpp, grammar-constrained
replies) with a fresh LM cache, so every call reaches the model:

1. ``GSM8K`` (ChainOfThought, ``answer: float``) zero-shot on the first ``--dev`` dev questions;
2. the same program compiled with ``BootstrapFewShotWithRandomSearch`` (few candidates,
   ``--train`` train / ``--val`` validation questions, taken from the train split and from
   the dev split *after* the measured questions), then evaluated on the same dev questions;
3. ``GSM8KProgramOfThought`` (code run in ``lmdsl.sandbox``, ``max_iters=3``) zero-shot.

For each: accuracy (exact number), LM calls, completion tokens and wall time; for PoT also
how often the code ran and how many sandbox runs it took. A 135M model is weak at grade-school
math: small numbers are expected; the point is that the pipeline is real.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples"))


def evaluate(program: Any, devset: list, metric: Any) -> dict[str, Any]:
    from lmdsl import Evaluate, track_usage

    start = time.perf_counter()
    with track_usage() as usage:
        result = Evaluate(devset=devset, metric=metric, num_threads=1, display_progress=True, max_errors=len(devset))(
            program
        )
    elapsed = time.perf_counter() - start
    return {
        "accuracy": round(float(result.score), 1),
        "correct": sum(1 for r in result.results if r.score),
        "n": len(devset),
        "errors": sum(1 for r in result.results if r.error),
        "lm_calls": usage.lm_calls,
        "completion_tokens": usage.completion_tokens,
        "seconds": round(elapsed, 1),
        "s_per_question": round(elapsed / len(devset), 2),
        "_result": result,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=int, default=30)
    ap.add_argument("--train", type=int, default=12)
    ap.add_argument("--val", type=int, default=10)
    ap.add_argument("--candidates", type=int, default=1, help="random-search candidates beyond the fixed three")
    ap.add_argument("--demos", type=int, default=2, help="max bootstrapped (and labeled) demos")
    ap.add_argument("--skip", default="", help="comma list of stages to skip: zero-shot,compiled,pot")
    ap.add_argument("--cpus", default="", help="pin to these CPUs, e.g. '1' (llama.cpp uses one thread per CPU; "
                    "on a busy machine one pinned thread beats two contended ones many times over)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    ap.add_argument("--out", help="also write the figures as JSON to this file")
    args = ap.parse_args()
    if args.cpus:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    skip = set(filter(None, args.skip.split(",")))

    os.environ["LMDSL_CACHE_DIR"] = tempfile.mkdtemp(prefix="lmdsl-gsm8k-bench-")  # cold: every call is real
    import gsm8k

    import lmdsl
    from lmdsl.optimizers import BootstrapFewShotWithRandomSearch

    lm = lmdsl.LM("local/smollm2")
    lmdsl.configure(lm=lm, display_progress=True)
    dev = gsm8k.load("dev", args.dev)
    val = gsm8k.load("dev")[args.dev : args.dev + args.val]
    train = gsm8k.load("train", args.train)
    rows: dict[str, dict[str, Any]] = {}

    t = time.perf_counter()
    lm([{"role": "user", "content": "Say hi."}], max_tokens=2)  # load the model outside the timings
    load_s = time.perf_counter() - t

    if "zero-shot" not in skip:
        rows["CoT zero-shot"] = evaluate(gsm8k.GSM8K(), dev, gsm8k.gsm8k_accuracy)

    if "compiled" not in skip:
        optimizer = BootstrapFewShotWithRandomSearch(
            gsm8k.gsm8k_accuracy,
            num_candidate_programs=args.candidates,
            max_bootstrapped_demos=args.demos,
            max_labeled_demos=args.demos,
            num_threads=1,
        )
        start = time.perf_counter()
        with lmdsl.track_usage() as usage:
            compiled = optimizer.compile(gsm8k.GSM8K(), trainset=train, valset=val)
        compile_s = time.perf_counter() - start
        report = getattr(optimizer, "report", None)
        candidates = [
            {"name": c.name, "score": c.score} for c in (getattr(report, "candidates", None) or [])
        ]
        row = evaluate(compiled, dev, gsm8k.gsm8k_accuracy)
        row["compile"] = {
            "seconds": round(compile_s, 1),
            "lm_calls": usage.lm_calls,
            "completion_tokens": usage.completion_tokens,
            "demos": len(compiled.solve.demos),
            "bootstrapped_demos": sum(1 for d in compiled.solve.demos if d.get("augmented")),
            "candidates": candidates,
        }
        rows["CoT compiled (random search)"] = row

    if "pot" not in skip:
        pot = gsm8k.GSM8KProgramOfThought()
        row = evaluate(pot, dev, gsm8k.gsm8k_accuracy)
        preds = [r.prediction for r in row["_result"].results if r.prediction is not None]
        attempts = [a for p in preds for a in p.get("attempts") or []]
        row["pot"] = {
            "code_worked": sum(1 for p in preds if p.get("generated_code")),
            "first_try": sum(1 for p in preds if p.get("generated_code") and len(p["attempts"]) == 1),
            "no_working_code": sum(1 for p in preds if p.get("error")),
            "attempts": len(attempts),
            "unreadable_replies": sum(1 for a in attempts if a["error"] and a["error"].startswith("the reply")),
            "sandbox_errors": sum(1 for a in attempts if a["error"] and not a["error"].startswith("the reply")),
        }
        rows["ProgramOfThought"] = row

    for row in rows.values():
        row.pop("_result", None)
    out = {"model": lm.model, "model_load_s": round(load_s, 1), "dev": args.dev, "rows": rows,
           "cpus": sorted(os.sched_getaffinity(0)), "load_avg": os.getloadavg()}
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"\nGSM8K dev (first {args.dev}), {lm.model}; model load {load_s:.1f} s; "
          f"cpus {sorted(os.sched_getaffinity(0))}; load avg {os.getloadavg()[0]:.1f}")
    print(f"{'program':32} {'acc %':>6} {'correct':>8} {'LM calls':>9} {'tokens out':>10} {'time s':>7} {'s/q':>5}")
    for name, r in rows.items():
        print(f"{name:32} {r['accuracy']:6.1f} {r['correct']:>4}/{r['n']:<3} {r['lm_calls']:9} "
              f"{r['completion_tokens']:10} {r['seconds']:7.1f} {r['s_per_question']:5.2f}")
        if "compile" in r:
            c = r["compile"]
            print(f"  compile: {c['seconds']} s, {c['lm_calls']} LM calls, {c['demos']} demos "
                  f"({c['bootstrapped_demos']} bootstrapped); candidates {c['candidates']}")
        if "pot" in r:
            print(f"  PoT: {r['pot']}")


if __name__ == "__main__":
    main()
