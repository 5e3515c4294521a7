"""Benchmark ``lmdsl.sandbox``: start-up cost and per-run time.

    python bench/sandbox.py [--repeat N] [--json]

Reports, each as median / min / max over N samples (where repeated):

* snapshot build: the one-off boot of a worker that makes the memory snapshot later
  workers start from (first use on a machine; made into a temporary cache directory here,
  so it really is cold and the user's cache is untouched);
* worker start, snapshot / no snapshot: spawn to "ready" (launcher + Node + Pyodide);
* run (warm worker): ``run()`` time when a pre-started worker is already ready, for a
  trivial snippet and a small computation; ``duration`` is the code's own time;
* back-to-back run: ``run()`` called in a loop, so every call also waits for the pool's
  replacement worker to finish booting (the steady-state throughput limit).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRIVIAL = "1 + 1"
SMALL = """
import math, statistics, json
primes = [n for n in range(2, 5000) if all(n % d for d in range(2, math.isqrt(n) + 1))]
json.dumps({"count": len(primes), "mean": statistics.mean(primes)})
"""


def _stats(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    cache = tempfile.mkdtemp(prefix="lmdsl-sandbox-bench-")
    os.environ["LMDSL_SANDBOX_CACHE"] = cache
    from lmdsl.sandbox import Sandbox
    from lmdsl.sandbox import _sandbox as impl

    rt = impl.find_runtime()
    rows: dict[str, dict[str, float]] = {}

    t = time.perf_counter()
    snap = impl._ensure_snapshot(rt)
    rows["snapshot build (once per machine)"] = _stats([time.perf_counter() - t])
    sb = Sandbox(timeout=30, pool_size=0)

    def boot(snapshot: Path | None) -> float:
        t = time.perf_counter()
        w = sb._spawn(rt, snapshot)
        w.wait_ready()
        elapsed = time.perf_counter() - t
        w.kill()
        return elapsed

    if snap is not None:
        rows["worker start, snapshot"] = _stats([boot(snap) for _ in range(args.repeat)])
    rows["worker start, no snapshot"] = _stats([boot(None) for _ in range(min(2, args.repeat))])

    warm = Sandbox(timeout=30, pool_size=1)
    for name, code in (("trivial", TRIVIAL), ("small computation", SMALL)):
        calls, durations = [], []
        for _ in range(args.repeat):
            warm.start()
            warm._idle[0].wait_ready()  # measure a run against a worker that is already up
            time.sleep(0.2)
            t = time.perf_counter()
            r = warm.run(code)
            calls.append(time.perf_counter() - t)
            durations.append(r.duration)
            assert r.error is None, r
        rows[f"run() {name}, warm worker"] = _stats(calls)
        rows[f"  code duration, {name}"] = _stats(durations)
    warm.close()

    loop = Sandbox(timeout=30, pool_size=1).start()
    calls = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        loop.run(TRIVIAL)
        calls.append(time.perf_counter() - t)
    loop.close()
    rows["run() trivial, back-to-back"] = _stats(calls)

    info: dict[str, Any] = {
        "node": ".".join(map(str, rt.node_version)),
        "pyodide": rt.pyodide_version,
        "seccomp": loop.isolation.get("seccomp"),
        "cpus": os.cpu_count(),
        "rows_seconds": rows,
    }
    for f in Path(cache).glob("*"):
        f.unlink()
    os.rmdir(cache)

    if args.json:
        print(json.dumps(info, indent=2))
        return
    print(
        f"lmdsl.sandbox  node {info['node']}  pyodide {info['pyodide']}  seccomp={info['seccomp']}  cpus={info['cpus']}"
    )
    print(f"{'what':40s} {'median':>9s} {'min':>9s} {'max':>9s} {'n':>3s}")
    for name, s in rows.items():
        print(
            f"{name:40s} {s['median'] * 1000:7.0f}ms {s['min'] * 1000:7.0f}ms {s['max'] * 1000:7.0f}ms {int(s['n']):3d}"
        )


if __name__ == "__main__":
    main()
