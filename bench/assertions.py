"""Assertions on the embedded model: the four columns of the DSPy Assertions paper, on examples/quiz.py.

    python bench/assertions.py [--dev 25] [--train 20] [--demos 4] [--lm local/smollm2] [--json]

Columns (the paper's Table 2 strategies):

1. ``no assertions`` -- zero-shot, ``assertions="off"`` (checks are no-ops);
2. ``infer w/ assert`` -- zero-shot, backtracking at inference (``max_backtracks`` 2);
3. ``compile`` -- ``BootstrapFewShot`` with assertions off, evaluated with them off
   (the paper's plain "Compile"; ``--skip-plain-compile`` leaves it out);
4. ``compile w/ assert`` -- ``BootstrapFewShot`` run with assertions on (the teacher
   backtracks; traces that needed it and then passed give the corrected outputs as demos;
   runs whose Assert still failed count as failures), evaluated with assertions off;
5. ``both`` -- that compiled program with backtracking at inference too;
6. ``best of N`` -- for contrast, ``lmdsl.BestOfN`` around the zero-shot program (fresh
   samples at temperature 1.0 instead of feedback; reward: all rules met), assertions off.

Bootstrapping uses ``quiz.teacher()`` (the program with three hand-written quizzes as
demos) as the teacher; the compiled program's demos are the model's own passing outputs.

Reported per column on the first ``--dev`` usable HotPotQA dev pairs: the share of outputs
satisfying all the program's rules (valid JSON, shape, distinct options, answer included;
a run that raised AssertionFailed counts as not satisfying them), the task score (a
usable quiz: shape, distinct options, key letter right), the mean share of rules met per
output (graded; a raised run counts 0), per-rule pass rates as counted by
``lmdsl.assertions.counting`` (over the checks each run's final attempt reached), LM calls
(real / from the cache) and wall time. Calls go through lmdsl's cache (``LMDSL_CACHE_DIR``),
so a column's first attempts that an earlier column already made are free, and a re-run of
the script replays everything.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _load_quiz() -> Any:
    spec = importlib.util.spec_from_file_location("quiz", ROOT / "examples" / "quiz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _evaluate(quiz: Any, program: Any, devset: list[Any], assertions: str) -> dict[str, Any]:
    import lmdsl
    from lmdsl.assertions import counting
    from lmdsl.evaluate import Evaluate
    from lmdsl.utils.usage import track_usage

    evaluate = Evaluate(devset, quiz.usable_quiz, max_errors=len(devset) + 1, label=f"assertions={assertions}")
    start = time.perf_counter()
    with lmdsl.context(assertions=assertions), counting() as checks, track_usage() as usage:
        result = evaluate(program)
    met = [quiz.rules_met(row.example, row.prediction) if row.prediction is not None else 0.0
           for row in result.results]
    return {
        "suggestions_passed": round(100 * sum(m == 1.0 for m in met) / len(met), 1),
        "rules_met": round(100 * sum(met) / len(met), 1),
        "task_score": result.score,
        "assertion_failures": sum(1 for r in result.results if r.error and "AssertionFailed" in r.error),
        "errors": result.errors,
        "rules": {label: row["rate"] for label, row in checks.summary().items()},
        "lm_calls": usage.lm_calls,
        "cached_calls": usage.cached_calls,
        "wall_time": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=int, default=25, help="dev pairs to score (default 25)")
    parser.add_argument("--train", type=int, default=20, help="train pairs to bootstrap from (default 20)")
    parser.add_argument("--demos", type=int, default=4, help="max bootstrapped demos (default 4)")
    parser.add_argument("--lm", default="local/smollm2")
    parser.add_argument("--best-of", type=int, default=3,
                        help="add a BestOfN(N) column (no assertions; reward: all rules met); 0 leaves it out")
    parser.add_argument("--skip-plain-compile", action="store_true",
                        help="leave out the 'compile' column (bootstrapping with assertions off)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    import lmdsl
    from lmdsl.optimizers import BootstrapFewShot
    from lmdsl.utils.usage import track_usage

    quiz = _load_quiz()
    lmdsl.configure(lm=lmdsl.LM(args.lm), display_progress=True)
    devset = quiz.load_pairs("dev", limit=args.dev)
    trainset = quiz.load_pairs("train", limit=args.train)
    zero_shot = quiz.Quiz()

    columns: dict[str, dict[str, Any]] = {}
    columns["no assertions"] = _evaluate(quiz, zero_shot, devset, "off")
    columns["infer w/ assert"] = _evaluate(quiz, zero_shot, devset, "on")

    compiles: dict[str, dict[str, Any]] = {}

    def compile_with(assertions: str) -> Any:
        start = time.perf_counter()
        optimizer = BootstrapFewShot(quiz.metric, teacher=quiz.teacher(), max_bootstrapped_demos=args.demos,
                                     max_labeled_demos=0)
        with lmdsl.context(assertions=assertions), track_usage() as usage:
            compiled = optimizer.compile(zero_shot, trainset=trainset)
        compiles[assertions] = {"demos": len(compiled.generate.demos), **optimizer.stats,
                                "lm_calls": usage.lm_calls, "cached_calls": usage.cached_calls,
                                "wall_time": round(time.perf_counter() - start, 1)}
        return compiled

    if not args.skip_plain_compile:
        columns["compile"] = _evaluate(quiz, compile_with("off"), devset, "off")
    compiled = compile_with("on")
    columns["compile w/ assert"] = _evaluate(quiz, compiled, devset, "off")
    columns["both"] = _evaluate(quiz, compiled, devset, "on")
    if args.best_of:
        def rules_met(inputs: dict[str, Any], prediction: Any) -> float:
            return float(quiz.suggestions_passed(lmdsl.Example(**inputs), prediction))

        sampled = lmdsl.BestOfN(zero_shot, N=args.best_of, reward_fn=rules_met, threshold=1.0)
        columns[f"best of {args.best_of}"] = _evaluate(quiz, sampled, devset, "off")

    report = {"lm": args.lm, "dev": len(devset), "train": len(trainset), "compile": compiles,
              "columns": columns}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    names = list(columns)
    width = max(len(n) for n in names) + 2
    print(f"examples/quiz.py on {args.lm}: {len(devset)} HotPotQA dev pairs, {len(trainset)} train pairs")
    for mode, info in compiles.items():
        print(f"  bootstrap with assertions {mode}: {info['demos']} demos from {info['attempted']} teacher runs "
              f"({info['passed']} passed, {info.get('assertion_failures', 0)} failed an Assert), "
              f"{info['lm_calls']} LM calls, {info['wall_time']} s")
    header = ["", *names]
    rows = [
        ["suggestions passed (%)", *(f"{columns[n]['suggestions_passed']:.1f}" for n in names)],
        ["task score: usable quiz (%)", *(f"{columns[n]['task_score']:.1f}" for n in names)],
        ["rules met per output (mean %)", *(f"{columns[n]['rules_met']:.1f}" for n in names)],
        ["AssertionFailed raised", *(str(columns[n]["assertion_failures"]) for n in names)],
    ]
    labels = list(dict.fromkeys(label for n in names for label in columns[n]["rules"]))
    for label in labels:
        rates = [columns[n]["rules"].get(label) for n in names]
        rows.append([f"  rule: {label} (%)", *("-" if r is None else f"{100 * r:.1f}" for r in rates)])
    rows.append(["LM calls (+ from cache)",
                 *(f"{columns[n]['lm_calls']} (+{columns[n]['cached_calls']})" for n in names)])
    rows.append(["wall time (s)", *(f"{columns[n]['wall_time']}" for n in names)])
    first = max(len(r[0]) for r in [header, *rows]) + 2
    print("".ljust(first) + "".join(h.rjust(width) for h in names))
    for row in rows:
        print(row[0].ljust(first) + "".join(c.rjust(width) for c in row[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
