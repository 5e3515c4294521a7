"""Threads vs native async: 200 programs against a loopback OpenAI-style server that answers after 50 ms.

The program makes two dependent LM calls (write a query, then answer), as a small RAG step
would. Both modes run the same program through ``Evaluate`` at concurrency 50:

* threads: ``Evaluate(..., num_threads=50)(program)`` -- ``forward`` in 50 worker threads,
  ``litellm.completion`` in each;
* async:   ``Evaluate(...)(program, max_concurrency=50)`` -- ``aforward`` as asyncio tasks,
  ``LM.acall`` -> ``litellm.acompletion``, on one thread.

The server runs in its own process (``python -m lmdsl.testing_server``), so the threads
counted are the client's only: a sampler reads ``Threads:`` from ``/proc/self/status``
every 2 ms (the sampler itself is one of them). Modes alternate, ``--rounds`` times each.
The ideal wall time is 200 / 50 x 2 calls x 50 ms = 0.4 s.

    .venv/bin/python bench/async.py [--programs 200] [--concurrency 50] [--delay 0.05] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import lmdsl
from lmdsl import Example, Predict, program
from lmdsl.testing_server import free_port, stub_lm


@program
class QueryThenAnswer:
    def __init__(self):
        self.query = Predict("question -> query")
        self.answer = Predict("question, query -> answer")

    def forward(self, question: str):
        query = self.query(question=question).query
        return self.answer(question=question, query=query)

    async def aforward(self, question: str):
        query = (await self.query.acall(question=question)).query
        return await self.answer.acall(question=question, query=query)


def os_threads() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return threading.active_count()


class PeakThreads:
    """Samples the process's OS thread count in a background thread while active."""

    def __init__(self, every: float = 0.002):
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, os_threads())
            time.sleep(self.every)

    def __enter__(self) -> PeakThreads:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def start_server(delay: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lmdsl.testing_server", "--port", str(port), "--delay", str(delay)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{base}/models", timeout=1).read()
            return proc, base
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the stub server did not start")


def run(mode: str, devset: list[Example], concurrency: int) -> dict:
    evaluate = lmdsl.Evaluate(devset, lambda ex, pred: bool(pred.answer), display_progress=False,
                              max_errors=len(devset))
    prog = QueryThenAnswer()
    with PeakThreads() as peak:
        cpu = time.process_time()
        start = time.perf_counter()
        if mode == "threads":
            result = evaluate(prog, num_threads=concurrency)
        else:
            result = evaluate(prog, max_concurrency=concurrency)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
    return {"mode": mode, "wall": wall, "cpu": cpu, "peak_threads": peak.peak, "score": result.score, "errors": result.errors,
            "calls": result.usage.get("calls")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    proc, base = start_server(args.delay)
    try:
        lmdsl.configure(lm=stub_lm(base, cache=False))
        devset = [Example(question=f"question {i}?").with_inputs("question") for i in range(args.programs)]
        run("threads", devset[:4], 2)  # warm-up: litellm import and both client paths
        run("async", devset[:4], 2)
        idle = os_threads()
        rows = []
        for _ in range(args.rounds):
            for mode in ("threads", "async"):
                rows.append(run(mode, devset, args.concurrency))
                r = rows[-1]
                print(f"{mode:8s} wall {r['wall']:6.2f} s  client CPU {r['cpu']:5.2f} s  peak threads {r['peak_threads']:3d}  "
                      f"score {r['score']:.0f}  errors {r['errors']}  LM calls {r['calls']}", flush=True)
    finally:
        proc.kill()
        proc.wait()
    wall = {m: statistics.median(r["wall"] for r in rows if r["mode"] == m) for m in ("threads", "async")}
    peak = {m: max(r["peak_threads"] for r in rows if r["mode"] == m) for m in ("threads", "async")}
    ideal = args.programs / args.concurrency * 2 * args.delay
    print(f"\n{args.programs} programs x 2 LM calls, {args.delay * 1000:.0f} ms server delay, concurrency "
          f"{args.concurrency}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}); threads in this "
          f"process when idle: {idle}; ideal wall time {ideal:.2f} s")
    print("| mode | wall time (median) | peak OS threads |")
    print("|---|---|---|")
    for m in ("threads", "async"):
        print(f"| {m} | {wall[m]:.2f} s | {peak[m]} |")
    print(f"ratio threads/async: wall time {wall['threads'] / wall['async']:.2f}x, "
          f"peak threads {peak['threads'] / peak['async']:.1f}x")


if __name__ == "__main__":
    main()
