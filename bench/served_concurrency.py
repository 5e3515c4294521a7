"""Does ``Evaluate(num_threads=N)`` overlap calls to a server? Threads 1 vs N, side by side.

    python bench/served_concurrency.py --llama-server /path/to/llama-server [--rows 48] [--threads 4]
                                       [--parallel 4] [--server-threads 1] [--rounds 2] [--program label|explain|raw]

Serves the embedded SmolLM2-135M three ways and runs a zero-shot program over the same SST-2
held-out rows (``label``: the sentiment program, a ~150-token prompt and a 4-token reply, scored
by accuracy; ``explain``: two or three sentences about each review, ~30-50 tokens, scored by the
share of rows answered) (dev[60:]) with 1 thread and with ``--threads`` threads, the configurations taking
turns round by round so that the machine's load falls on all of them alike:

* in-process (``local/smollm2``): one llama.cpp context behind a lock, so threads cannot overlap;
* ``llama_cpp.server``: one request at a time by design;
* llama.cpp's C++ ``llama-server`` with ``--parallel`` slots, which decodes requests together.

A served LM holds no lock in lmdsl, so the speed-up is whatever the server gives: batching
shares the weights across the sequences being decoded, so it pays on long replies, while reading
prompts is compute-bound either way. Prints, per
configuration, the median seconds per row, the speed-up of N threads over 1, and the accuracy
(which must not change with threads). ``--program raw`` skips the program: each configuration makes
``--rows`` bare LM calls of a 96-token story, one at a time and from ``--threads`` threads. No
cache: every call is made.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENAI_API_KEY", "sk-local-server-needs-none")

import lmdsl  # noqa: E402
from lmdsl.evaluate import Evaluate  # noqa: E402
from lmdsl.testing_llama import MODEL_ALIAS, llama_server  # noqa: E402


def timed(program, lm, rows, metric, threads: int) -> tuple[float, float]:
    start = time.perf_counter()
    if program is None:  # bare calls: what the server gives when nothing but decoding is asked of it
        story = [{"role": "user", "content": "Write a short story about a cat."}]
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: lm(messages=story, max_tokens=96, temperature=0.0), rows))
        return time.perf_counter() - start, 100.0
    with lmdsl.context(lm=lm):
        result = Evaluate(rows, metric, num_threads=threads, display_progress=False)(program)
    return time.perf_counter() - start, result.score


def answered(example, prediction, trace=None) -> bool:
    return bool(str(prediction.explanation).strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--llama-server", default=None, help="llama.cpp's llama-server binary (make llama-server)")
    parser.add_argument("--rows", type=int, default=48)
    parser.add_argument("--threads", type=int, default=4, help="Evaluate's num_threads against 1")
    parser.add_argument("--parallel", type=int, default=4, help="llama-server slots")
    parser.add_argument("--server-threads", type=int, default=1,
                        help="CPU threads each server (and the in-process model) computes with")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--program", choices=("label", "explain", "raw"), default="label")
    args = parser.parse_args()
    os.environ["LMDSL_LOCAL_THREADS"] = str(args.server_threads)
    import sentiment

    rows = sentiment.devset[: args.rows]
    program, metric = sentiment.Sentiment(), sentiment.metric
    if args.program == "explain":
        program = lmdsl.Predict("text -> explanation: str",
                                instructions="Explain in two or three sentences what the movie review says.")
        metric = answered
    elif args.program == "raw":
        program = None
    lmdsl.configure(display_progress=False)
    with contextlib.ExitStack() as stack:
        servers = {"in-process (local/smollm2)": None,
                   "llama_cpp.server": stack.enter_context(llama_server(threads=args.server_threads))}
        if args.llama_server:
            servers[f"llama-server --parallel {args.parallel}"] = stack.enter_context(
                llama_server(binary=args.llama_server, parallel=args.parallel, threads=args.server_threads))
        else:
            print("llama-server: skipped (pass --llama-server PATH; `make llama-server` builds one)", file=sys.stderr)
        lms = {name: lmdsl.LM("local/smollm2", cache=False) if url is None
               else lmdsl.LM(f"openai/{MODEL_ALIAS}", api_base=url, cache=False) for name, url in servers.items()}
        for lm in lms.values():  # load the model, probe the server: not part of what is timed
            timed(program, lm, rows[:2], metric, 1)
        seconds: dict[tuple[str, int], list[float]] = {}
        scores: dict[tuple[str, int], set[float]] = {}
        for round_ in range(args.rounds):
            for name, lm in lms.items():
                for threads in (1, args.threads):
                    took, score = timed(program, lm, rows, metric, threads)
                    seconds.setdefault((name, threads), []).append(took)
                    scores.setdefault((name, threads), set()).add(score)
                    print(f"round {round_ + 1}: {name}, {threads} thread(s): {took:.1f} s, accuracy {score}",
                          file=sys.stderr, flush=True)
    print(f"{args.program}: {len(rows)} rows x {args.rounds} rounds, {os.cpu_count()} CPUs, load average at the end "
          f"{os.getloadavg()[0]:.1f}")
    print(f"| server | s/row, 1 thread | s/row, {args.threads} threads | speed-up | accuracy (1 / {args.threads}) |")
    print("|---|---|---|---|---|")
    for name in lms:
        one = statistics.median(seconds[(name, 1)]) / len(rows)
        many = statistics.median(seconds[(name, args.threads)]) / len(rows)
        accuracy = " / ".join(",".join(f"{s:g}" for s in sorted(scores[(name, t)])) for t in (1, args.threads))
        print(f"| {name} | {one:.3f} | {many:.3f} | {one / many:.2f}x | {accuracy} |")


if __name__ == "__main__":
    main()
