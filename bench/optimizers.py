"""Random search vs MIPROv2 (light) vs GEPA on the embedded model, each alone and with Calibrate on top.

For TREC and SST-2 (the examples' module-level trainset, valset = dev[:60] and held-out devset =
dev[60:]), every optimizer compiles on trainset/valset, then the compiled program is scored on
the held-out rows no optimizer saw. GEPA gets the same metric-call budget random search used
(counted, not estimated). The proposer / reflection LM is the task model itself (SmolLM2-135M).
Each optimizer runs in a fresh cache directory, so every call it counts reached the model; the
wall times are those of one shared, noisy 2-core machine: compare them within one run.

    nice python bench/optimizers.py [--tasks trec,sentiment] [--candidates 4] [--held-out 140]
        [--json results.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import lmdsl  # noqa: E402
from lmdsl.evaluate import Evaluate  # noqa: E402
from lmdsl.optimizers import BootstrapFewShotWithRandomSearch, Calibrate  # noqa: E402

PROGRAMS = {"sentiment": "Sentiment", "trec": "QuestionType"}


class Counted:
    """The task metric, counting its calls (GEPA's budget is random search's count)."""

    def __init__(self, metric: Any):
        self.metric = metric
        self.calls = 0
        self.__name__ = getattr(metric, "__name__", "metric")

    def __call__(self, example: Any, prediction: Any, trace: Any = None) -> Any:
        self.calls += 1
        return self.metric(example, prediction, trace)


def fresh_cache(label: str) -> None:
    os.environ["LMDSL_CACHE_DIR"] = tempfile.mkdtemp(prefix=f"lmdsl-bench-opt-{label}-")


def compile_row(name: str, make: Any, program: Any, module: Any, held_out: list[Any]) -> list[dict[str, Any]]:
    """Compile with ``make(metric)``, then Calibrate on top; score both on the held-out rows."""
    fresh_cache(name)
    metric = Counted(module.metric)
    optimizer = make(metric)
    optimizer.verbose = False
    start = time.perf_counter()
    compiled = optimizer.compile(program, trainset=module.trainset, valset=module.valset)
    wall = time.perf_counter() - start
    report = optimizer.report
    rows = [{"optimizer": name, "lm_calls": report.lm_calls, "estimated": report.estimated_calls,
             "metric_calls": metric.calls, "wall_s": wall, "program": compiled, "optimizer_obj": optimizer}]
    calibrate = Calibrate(module.metric)
    calibrate.verbose = False
    start = time.perf_counter()
    calibrated = calibrate.compile(compiled, trainset=module.trainset)
    rows.append({"optimizer": f"{name} + calibrate", "lm_calls": report.lm_calls + calibrate.report.lm_calls,
                 "estimated": None, "metric_calls": metric.calls + len(module.trainset),
                 "wall_s": wall + time.perf_counter() - start, "program": calibrated})
    for row in rows:
        row["held_out"] = Evaluate(held_out, module.metric, display_progress=False)(row["program"]).score
        print(f"  {row['optimizer']:<26} held-out {row['held_out']:5.1f}  {row['lm_calls']:5d} LM calls  "
              f"{row['metric_calls']:5d} metric calls  {row['wall_s']:6.1f} s", flush=True)
    return rows


def run(task: str, candidates: int, held_out_n: int, args_tokens: int) -> list[dict[str, Any]]:
    from lmdsl_gepa import GEPA
    from lmdsl_mipro import MIPROv2

    module = importlib.import_module(task)
    program = getattr(module, PROGRAMS[task])()
    held_out = module.devset[:held_out_n]
    print(f"== {task}: {len(module.trainset)} train, {len(module.valset)} val, {len(held_out)} held-out", flush=True)
    fresh_cache("zero-shot")
    zero = Evaluate(held_out, module.metric, display_progress=False)(program).score
    print(f"  {'zero-shot':<26} held-out {zero:5.1f}", flush=True)
    rows: list[dict[str, Any]] = [{"optimizer": "zero-shot", "held_out": zero, "lm_calls": 0, "metric_calls": 0,
                                   "wall_s": 0.0, "estimated": None}]
    rows += compile_row("random-search", lambda m: BootstrapFewShotWithRandomSearch(
        m, num_candidate_programs=candidates, max_bootstrapped_demos=4, max_labeled_demos=4), program, module,
        held_out)
    budget = rows[1]["metric_calls"]
    rows += compile_row("mipro light", lambda m: MIPROv2(m, auto="light", proposer_max_tokens=args_tokens), program, module, held_out)
    rows += compile_row(f"gepa ({budget} metric calls)", lambda m: GEPA(m, max_metric_calls=budget, reflection_max_tokens=args_tokens), program,
                        module, held_out)
    for row in rows:
        row["task"] = task
    return rows


def describe_search(rows: list[dict[str, Any]]) -> None:
    """What the 135M proposer and reflection LM wrote, and what was kept."""
    for row in rows:
        opt = row.get("optimizer_obj")
        if opt is None:
            continue
        final = {path: p.signature.instructions for path, p in row["program"].named_predictors()}
        print(f"-- {row['task']} {row['optimizer']}: final instruction {final}")
        if hasattr(opt, "instructions") and opt.instructions:
            for path, texts in opt.instructions.items():
                for i, text in enumerate(texts[1:], 1):
                    print(f"   proposal {path}[{i}]: {text!r}")
        if hasattr(opt, "history") and getattr(opt, "pool", None):
            for h in opt.history:
                if h.get("proposal") is not None or h["kind"] == "merge":
                    print(f"   iteration {h['iteration']} {h['kind']} {h.get('predictor', '')}: "
                          f"{h.get('parent_score')} -> {h.get('child_score')} {h['outcome']}: {h.get('proposal')!r}")
                else:
                    print(f"   iteration {h['iteration']}: {h['outcome']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="trec,sentiment")
    parser.add_argument("--candidates", type=int, default=4, help="random search: num_candidate_programs")
    parser.add_argument("--held-out", type=int, default=140)
    parser.add_argument("--max-tokens", type=int, default=120,
                        help="proposer / reflection reply cap (the 135M model rambles until the cap)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    lmdsl.configure(lm=lmdsl.LM("local/smollm2"), display_progress=False)
    results = []
    for task in args.tasks.split(","):
        rows = run(task, args.candidates, args.held_out, args.max_tokens)
        describe_search(rows)  # as soon as a task is done: what the proposer wrote
        results += rows
    print(f"\n{'task':<10} {'optimizer':<34} {'held-out':>8} {'LM calls':>8} {'metric calls':>12} {'wall s':>7}")
    for r in results:
        print(f"{r['task']:<10} {r['optimizer']:<34} {r['held_out']:>8.1f} {r['lm_calls']:>8} "
              f"{r['metric_calls']:>12} {r['wall_s']:>7.1f}")
    if args.json:
        keep = ("task", "optimizer", "held_out", "lm_calls", "estimated", "metric_calls", "wall_s")
        Path(args.json).write_text(json.dumps([{k: r.get(k) for k in keep} for r in results], indent=1))


if __name__ == "__main__":
    main()
