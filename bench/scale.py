"""Threads vs Ray replicas: rows per second on the embedded model, and the per-row cost Ray adds.

1. The 200 SST-2 dev sentences of examples/sentiment.py on the embedded model (cache off, so
   every row reaches the model): the threads executor (``--threads`` threads sharing this
   process's one llama.cpp context) against the Ray executor with ``--replicas`` replicas
   (each its own process and model) on a local Ray instance. Start-up (Ray, replicas, model
   loads) is done before the clock starts for both; rows/s and the ratio are printed.
2. The per-row overhead on a ScriptedLM program (no model): microseconds per row for threads
   and for Ray, on ``--overhead-rows`` rows.

    nice python bench/scale.py [--rows 200] [--replicas 2] [--threads 2] [--overhead-rows 400]

The two runs of each part go one after the other in one process; the machine's load is
printed with them (the ratio means little on a busy machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import lmdsl  # noqa: E402
from lmdsl import Predict, program  # noqa: E402
from lmdsl.evaluate import Evaluate  # noqa: E402
from lmdsl.executors import RayExecutor  # noqa: E402
from lmdsl.testing import ScriptedLM  # noqa: E402


@lmdsl.signature
def mood(text: str) -> Literal["negative", "positive"]:
    """Classify the mood of the text."""


@program
class Mood:
    def __init__(self) -> None:
        self.classify = Predict(mood)

    def forward(self, text: str):
        return self.classify(text=text)


# Replicas import this file and find the scripted LM by name.
scripted_lm = ScriptedLM(lambda inputs: {"output": "positive" if "good" in inputs["text"] else "negative"})


def load() -> str:
    return os.popen("uptime").read().strip().split("load average:")[-1].strip()


def timed(evaluate: Evaluate, program, executor) -> tuple[float, float]:
    start = time.perf_counter()
    result = evaluate(program, executor=executor)
    return time.perf_counter() - start, result.score


def embedded(args: argparse.Namespace, ray_executor: RayExecutor) -> None:
    from sentiment import Sentiment, _dev, metric

    rows = _dev[: args.rows]
    lmdsl.configure(lm=lmdsl.LM("local/smollm2", cache=False), display_progress=False)
    evaluate = Evaluate(rows, metric, num_threads=args.threads, max_errors=len(rows))
    warm = Evaluate(rows[: 2 * args.replicas], metric, num_threads=args.threads)
    warm(Sentiment(), executor="threads")  # load the model here
    warm(Sentiment(), executor=ray_executor)  # and once in every replica
    print(f"embedded model, {len(rows)} SST-2 dev rows, load before: {load()}")
    t_threads, s_threads = timed(evaluate, Sentiment(), "threads")
    print(f"  threads ({args.threads} threads, 1 context): {t_threads:6.1f} s  {len(rows) / t_threads:5.2f} rows/s  "
          f"accuracy {s_threads:.1f}")
    t_ray, s_ray = timed(evaluate, Sentiment(), ray_executor)
    print(f"  ray ({args.replicas} replicas):             {t_ray:6.1f} s  {len(rows) / t_ray:5.2f} rows/s  "
          f"accuracy {s_ray:.1f}")
    print(f"  ratio ray/threads: {t_threads / t_ray:.2f}x rows/s   load after: {load()}")
    print(f"  rows per replica process: {sorted(ray_executor.stats.rows_by_pid.values())}")


def overhead(args: argparse.Namespace, ray_executor: RayExecutor) -> None:
    rows = [lmdsl.Example(text=f"row {i} is {'good' if i % 2 else 'bad'}", label="x").with_inputs("text")
            for i in range(args.overhead_rows)]
    lmdsl.configure(lm=scripted_lm, display_progress=False)
    evaluate = Evaluate(rows, lambda example, prediction, trace=None: 1.0, max_errors=len(rows))
    evaluate(Mood(), executor=ray_executor)  # replicas build this program once
    print(f"ScriptedLM program (no model), {len(rows)} rows, load before: {load()}")
    t1, _ = timed(evaluate, Mood(), "threads")
    print(f"  threads (1 thread):     {1e6 * t1 / len(rows):8.0f} us/row")
    t2, _ = timed(evaluate, Mood(), ray_executor)
    print(f"  ray ({args.replicas} replicas):       {1e6 * t2 / len(rows):8.0f} us/row "
          f"(+{1e6 * (t2 - t1) / len(rows):.0f} us/row)   load after: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--overhead-rows", type=int, default=400)
    parser.add_argument("--skip-model", action="store_true", help="only the ScriptedLM overhead")
    args = parser.parse_args()
    os.environ["LMDSL_CACHE_DIR"] = tempfile.mkdtemp(prefix="lmdsl-bench-scale-")
    ray_executor = RayExecutor(replicas=args.replicas)
    try:
        overhead(args, ray_executor)
        if not args.skip_model:
            embedded(args, ray_executor)
    finally:
        ray_executor.close()


if __name__ == "__main__":
    main()
