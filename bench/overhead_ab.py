"""Per-call overhead of ``Predict`` for several source trees side by side (before/after a change).

    git archive HEAD~3 lmdsl | tar -x -C /tmp/before
    python bench/overhead_ab.py before=/tmp/before after=. [--rounds 5] [--calls 1000]

Each tree runs in fresh interpreters (``PYTHONPATH=tree``), the trees alternating run by run so
that the machine's load hits them alike. Two call paths, as ``bench/overhead.py`` times them: a
``ScriptedLM`` with a fixed reply and the cache off, and the same LM with the cache on (every timed
call a memory hit). Reported: median over rounds of each round's best 1000-call batch, in CPU
microseconds per call, and the ratio to the first tree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

PROBE = r"""
import time, lmdsl
from lmdsl.testing import ScriptedLM
calls, cached = CALLS, CACHED
lm = ScriptedLM(lambda inputs: "Answer: Paris", cache=cached)
predictor = lmdsl.Predict(lmdsl.signature("question, context -> answer", instructions="Answer briefly."))
kwargs = {"question": "What is the capital of France?", "context": "Paris is the capital of France."}
with lmdsl.context(lm=lm):
    for _ in range(300):
        predictor(**kwargs)
    batches = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(calls):
            predictor(**kwargs)
        batches.append((time.process_time() - start) / calls * 1e6)
print(min(batches))
"""


def run(tree: str, calls: int, cached: bool) -> float:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
    with tempfile.TemporaryDirectory() as cache:
        env["LMDSL_CACHE_DIR"] = cache
        probe = PROBE.replace("CALLS", str(calls)).replace("CACHED", str(cached))
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True,
                             cwd=tempfile.gettempdir()).stdout
    return float(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", metavar="NAME=DIR", help="a source tree holding lmdsl/")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    trees = dict(t.split("=", 1) if "=" in t else (t, t) for t in args.trees)
    results: dict[tuple[str, bool], list[float]] = {(n, c): [] for n in trees for c in (False, True)}
    for _ in range(args.rounds):
        for cached in (False, True):
            for name, tree in trees.items():
                results[name, cached].append(run(tree, args.calls, cached))
    print(f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}; CPU us per Predict call, "
          f"median of {args.rounds} rounds")
    for cached in (False, True):
        first = statistics.median(results[next(iter(trees)), cached])
        for name in trees:
            runs = results[name, cached]
            median = statistics.median(runs)
            print(f"  cache {'on ' if cached else 'off'} {name:>10}: {median:6.1f} us  x{median / first:.2f}  "
                  f"(rounds: {', '.join(f'{r:.0f}' for r in runs)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
