"""Random-search compile of examples/sentiment.py on the embedded model, at 1 and 2 threads.

Prints wall time, LM calls, and the share of wall time spent outside the model (framework
overhead + evaluation), for each thread count side by side. Each run uses a fresh cache
directory so that every call really reaches the model.

    python bench/compile.py [--train 20] [--val 30] [--candidates 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import lmdsl  # noqa: E402
from lmdsl.evaluate import exact_match  # noqa: E402
from lmdsl.lm.lm import LM  # noqa: E402
from lmdsl.optimizers import BootstrapFewShotWithRandomSearch  # noqa: E402


class TimedLM(LM):
    """The local model, recording the wall time spent inside provider calls."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lm_seconds = 0.0
        self._timer_lock = threading.Lock()
        self._inflight = 0
        self._since = 0.0

    def _complete(self, messages, params):
        # Wall time during which at least one call is in flight (calls overlap with threads).
        with self._timer_lock:
            if self._inflight == 0:
                self._since = time.perf_counter()
            self._inflight += 1
        try:
            return super()._complete(messages, params)
        finally:
            with self._timer_lock:
                self._inflight -= 1
                if self._inflight == 0:
                    self.lm_seconds += time.perf_counter() - self._since


def run(threads: int, args: argparse.Namespace) -> dict[str, float]:
    from sentiment import Sentiment, trainset, valset

    os.environ["LMDSL_CACHE_DIR"] = tempfile.mkdtemp(prefix="lmdsl-bench-compile-")
    lm = TimedLM("local/smollm2")
    lmdsl.configure(lm=lm, display_progress=False)
    optimizer = BootstrapFewShotWithRandomSearch(
        exact_match, num_candidate_programs=args.candidates, max_bootstrapped_demos=4, max_labeled_demos=4,
        num_threads=threads, seed=0,
    )
    optimizer.verbose = False
    start = time.perf_counter()
    optimizer.compile(Sentiment(), trainset=trainset[: args.train], valset=valset[: args.val])
    wall = time.perf_counter() - start
    report = optimizer.report
    return {"wall": wall, "calls": report.lm_calls, "lm": lm.lm_seconds, "best": report.best_score or 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=20)
    parser.add_argument("--val", type=int, default=30)
    parser.add_argument("--candidates", type=int, default=2)
    args = parser.parse_args()
    # Load the model once so neither run pays the load.
    LM("local/smollm2", cache=False)([{"role": "user", "content": "hi"}], max_tokens=1)
    rows = {t: run(t, args) for t in (1, 2)}
    print(f"random search on SST-2: train {args.train}, val {args.val}, {args.candidates + 3} candidates")
    print(f"{'threads':>8} {'wall s':>8} {'LM calls':>9} {'calls/s':>8} {'outside LM':>11} {'best':>6}")
    for t, r in rows.items():
        outside = max(0.0, r["wall"] - r["lm"]) / r["wall"]
        print(f"{t:>8} {r['wall']:>8.1f} {r['calls']:>9} {r['calls'] / r['wall']:>8.2f} {outside:>10.1%} {r['best']:>6.1f}")
    print(f"wall-time ratio 2 threads / 1 thread: {rows[2]['wall'] / rows[1]['wall']:.2f} "
          "(the local model serialises calls on one context, so expect ~1)")


if __name__ == "__main__":
    main()
