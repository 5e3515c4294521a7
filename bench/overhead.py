"""Framework overhead of lmdsl, without any model.

1. Per-call overhead of ``Predict`` on a 2-input / 1-output signature with ``ScriptedLM``
   (no network, cache off): median over several runs of N calls, in microseconds. Two
   variants: the scripted reply is a fixed string (the LM double costs almost nothing, so
   this is lmdsl's own overhead: input checks, prompt formatting, LM layer bookkeeping,
   parsing, trace) and a dict answer rendered through the adapter as ScriptedLM does in tests.
2. ``import lmdsl`` time: median over fresh subprocesses, and a check that importing
   (and building a predictor) neither imports litellm nor scans entry points.

    python bench/overhead.py [--calls N] [--runs R] [--imports K] [--profile]

Target: < 100 us per call (DSPy measured 400-500 us on these machines) and import < 0.2 s.
The call rows are with tracing off (the default: one settings lookup per module and LM call);
two more rows time the same calls with OpenTelemetry spans written to a JSONL file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_US = 100.0
IMPORT_TARGET_S = 0.2

IMPORT_PROBE = """
import importlib.metadata as md, sys, time
scans = []
real = md.entry_points
md.entry_points = lambda **kw: scans.append(kw) or real(**kw)
t0, c0 = time.perf_counter(), time.process_time()
import lmdsl
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
lmdsl.Predict("question, context -> answer").render(question="q", context="c")
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "entry_point_scans": len(scans),
                  "litellm_imported": "litellm" in sys.modules}))
""".replace("import importlib", "import json, importlib", 1)


def measure_calls(calls: int, runs: int, mode: str, tracing: str | None = None) -> tuple[list[float], list[float]]:
    """(wall, CPU) microseconds per call for each run; ``tracing``: None (off), "file" (spans to a
    JSONL file) or "content" (the same, with prompts and replies recorded)."""
    import tempfile

    import lmdsl
    from lmdsl import telemetry
    from lmdsl.testing import ScriptedLM

    if mode == "string":
        answers = lambda inputs: "Answer: Paris"  # noqa: E731
    else:
        answers = lambda inputs: {"answer": "Paris"}  # noqa: E731
    lm = ScriptedLM(answers, cache=False)
    predictor = lmdsl.Predict(lmdsl.signature("question, context -> answer", instructions="Answer briefly."))
    kwargs = {"question": "What is the capital of France?", "context": "Paris is the capital of France."}
    wall, cpu = [], []
    folder = tempfile.TemporaryDirectory()
    settings = {"tracing": f"{folder.name}/trace.jsonl", "trace_content": tracing == "content"} \
        if tracing in ("file", "content") else {}
    hooks = _unhook() if tracing == "unhooked" else []
    with lmdsl.context(lm=lm, **settings):
        for _ in range(min(calls, 500)):  # warm-up
            predictor(**kwargs)
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(calls):
                predictor(**kwargs)
            wall.append((time.perf_counter() - t0) / calls * 1e6)
            cpu.append((time.process_time() - c0) / calls * 1e6)
        assert predictor(**kwargs).answer == "Paris"
    if settings:
        telemetry.reset()  # closes the file
    for owner, name, hooked in hooks:
        setattr(owner, name, hooked)
    folder.cleanup()
    return wall, cpu


def _unhook() -> list[tuple[type, str, object]]:
    """Take the tracing decorators off Module.__call__ and the LM's call path (the code as it was
    before tracing existed), so that their cost with tracing off is measured side by side."""
    from lmdsl.lm.lm import LM
    from lmdsl.program.module import Module

    hooks = []
    for owner, name in ((Module, "__call__"), (LM, "_through_cache"), (LM, "_is_transient")):
        hooked = owner.__dict__[name]
        hooks.append((owner, name, hooked))
        setattr(owner, name, hooked.__wrapped__)
    return hooks


def measure_import(times: int) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    results = []
    for _ in range(times):
        out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True,
                             cwd=REPO, env=env).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def profile(calls: int) -> None:
    import cProfile
    import pstats

    import lmdsl
    from lmdsl.testing import ScriptedLM

    predictor = lmdsl.Predict("question, context -> answer")
    lmdsl.configure(lm=ScriptedLM(lambda inputs: "Answer: Paris"))
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        predictor(question="q", context="c")
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per run")
    parser.add_argument("--runs", type=int, default=7, help="timed runs (the median is reported)")
    parser.add_argument("--imports", type=int, default=7, help="fresh interpreters for the import time")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the call path")
    parser.add_argument("--no-tracing", action="store_true", help="skip the tracing-on rows (needs lmdsl[trace])")
    args = parser.parse_args()

    imports = measure_import(args.imports)
    import_median = statistics.median(r["seconds"] for r in imports)
    import_min = min(r["seconds"] for r in imports)
    import_cpu = statistics.median(r["cpu_seconds"] for r in imports)
    scans = max(r["entry_point_scans"] for r in imports)
    litellm_imported = any(r["litellm_imported"] for r in imports)

    string_wall, string_cpu = measure_calls(args.calls, args.runs, "string")
    dict_wall, dict_cpu = measure_calls(args.calls, args.runs, "dict")
    overhead = statistics.median(string_cpu)
    # hooks on (tracing off) and hooks off, alternating run by run so that drift hits both alike
    pairs = [(measure_calls(args.calls, 1, "string"), measure_calls(args.calls, 1, "string", "unhooked"))
             for _ in range(args.runs)]
    hooked_cpu = [on[1][0] for on, _ in pairs]
    unhooked_wall, unhooked_cpu = [off[0][0] for _, off in pairs], [off[1][0] for _, off in pairs]
    traced = {}
    if not args.no_tracing:
        traced = {mode: measure_calls(max(200, args.calls // 4), args.runs, "string", mode)
                  for mode in ("file", "content")}

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"Predict overhead per call (2 inputs, 1 output, ScriptedLM fixed reply, cache off, "
          f"median of {args.runs} x {args.calls} calls; target < {TARGET_US:.0f} us):")
    print(f"  tracing off: {overhead:.1f} us CPU, {statistics.median(string_wall):.1f} us wall "
          f"(best run {min(string_wall):.1f} us wall)")
    print(f"  with ScriptedLM rendering a dict answer through the adapter: "
          f"{statistics.median(dict_cpu):.1f} us CPU, {statistics.median(dict_wall):.1f} us wall")
    print(f"  without the tracing hooks (the call path before tracing existed): "
          f"{statistics.median(unhooked_cpu):.1f} us CPU, {statistics.median(unhooked_wall):.1f} us wall; "
          f"hooks with tracing off cost "
          f"{100 * (statistics.median(hooked_cpu) / statistics.median(unhooked_cpu) - 1):+.1f}% "
          f"(alternating runs: {statistics.median(hooked_cpu):.1f} us with hooks)")
    for mode, (t_wall, t_cpu) in traced.items():
        what = "spans to a JSONL file" if mode == "file" else "spans with prompts/replies to a JSONL file"
        print(f"  tracing on ({what}): {statistics.median(t_cpu):.1f} us CPU, "
              f"{statistics.median(t_wall):.1f} us wall ({statistics.median(t_cpu) / overhead:.1f}x off)")
    print(f"import lmdsl: {import_median * 1000:.1f} ms wall, {import_cpu * 1000:.1f} ms CPU  (median of "
          f"{args.imports} fresh interpreters; best {import_min * 1000:.1f} ms; target < {IMPORT_TARGET_S * 1000:.0f} ms)")
    print(f"  entry-point scans during import + Predict.render: {scans}; litellm imported: {litellm_imported}")

    # CPU time decides: wall time also counts whatever else the machine is doing.
    ok = overhead < TARGET_US and import_cpu < IMPORT_TARGET_S and scans == 0 and not litellm_imported
    print("OK" if ok else "ABOVE TARGET")
    if args.profile:
        profile(args.calls)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
