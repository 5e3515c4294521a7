"""The same zero-shot programs in-process and served by llama.cpp, side by side.

    python bench/served.py [--rows 140] [--tasks sst2,trec] [--dspy-python /path/to/venv/bin/python] [--dspy-rows N]
                           [--llama-server /path/to/llama-server]

Starts a real ``llama_cpp.server`` (llama-cpp-python's ``[server]`` extra) on loopback serving the
embedded SmolLM2-135M, then scores each task's held-out dev rows (dev[60:], which no optimizer
sees) under every configuration, interleaved row by row so the machine's load falls on all of them
alike: in-process (``local/smollm2``, grammar), served with ``constrain="gbnf"``,
``"json_schema"`` and ``"none"``, and DSPy 3.4 (``dspy.Predict`` + its default ChatAdapter) on the
same server when ``--dspy-python`` names an interpreter that has dspy (run in a subprocess so
its litellm pin stays out of this environment). With ``--llama-server`` (llama.cpp's own C++
server, ``make llama-server``), the same program served by it too (``constrain="auto"`` and
``"none"``). Prints accuracy, parse failures, LM calls, completion tokens and seconds per row,
each task's rows as soon as the task is done. No cache: every call is made.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENAI_API_KEY", "sk-local-server-needs-none")

import lmdsl  # noqa: E402
from lmdsl.testing_llama import MODEL_ALIAS, llama_server  # noqa: E402

TASKS = {"sst2": ("sentiment", "Sentiment"), "trec": ("trec", "QuestionType")}
MODES = ("gbnf", "json_schema", "none")


def run_row(program, lm, row) -> dict:
    before = len(lm.history)
    start = time.perf_counter()
    error = None
    label = None
    try:
        with lmdsl.context(lm=lm):
            label = program(text=row.text).label
    except Exception as exc:  # a parse failure after re-asks, or a provider error
        error = f"{type(exc).__name__}: {str(exc)[:120]}"
    calls = list(lm.history)[before:]
    tokens = 0
    for entry in calls:
        tokens += int((entry.get("usage") or {}).get("completion_tokens", 0) or 0)
    return {"ok": label == row.label, "error": error, "calls": len(calls), "tokens": tokens,
            "seconds": time.perf_counter() - start}


def summarise(name: str, results: list[dict]) -> dict:
    n = len(results) or 1
    return {
        "config": name, "rows": len(results),
        "accuracy": round(100 * sum(r["ok"] for r in results) / n, 1),
        "parse_failures": sum(r["error"] is not None for r in results),
        "calls_per_row": round(sum(r["calls"] for r in results) / n, 2),
        "completion_tokens_per_row": round(sum(r["tokens"] for r in results) / n, 1),
        "seconds_per_row": round(sum(r["seconds"] for r in results) / n, 3),
    }


def dspy_rows(python: str, url: str, task: str, rows) -> list[dict] | None:
    script = ROOT / "bench" / "served_dspy" / "run_dspy.py"
    payload = json.dumps({"url": url, "model": MODEL_ALIAS, "task": task,
                          "rows": [{"text": r.text, "label": r.label} for r in rows]})
    done = subprocess.run([python, str(script)], input=payload, capture_output=True, text=True, timeout=7200)
    if done.returncode != 0:
        print(f"DSPy run failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=140)
    parser.add_argument("--tasks", default="sst2,trec")
    parser.add_argument("--dspy-python", default=None, help="an interpreter with dspy installed")
    parser.add_argument("--dspy-rows", type=int, default=None,
                        help="score DSPy on only the first N of the rows (it spends ~30 s per row here)")
    parser.add_argument("--llama-server", default=None, help="llama.cpp's llama-server binary: serve it there too")
    parser.add_argument("--json", default=None, help="also write the table here")
    args = parser.parse_args()
    lmdsl.configure(display_progress=False)
    table: list[dict] = []
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(llama_server())
        cpp_url = stack.enter_context(llama_server(binary=args.llama_server)) if args.llama_server else None
        for task in args.tasks.split(","):
            module_name, cls = TASKS[task]
            module = __import__(module_name)
            rows = module.devset[: args.rows]
            program = getattr(module, cls)()
            lms = {"in-process (grammar)": lmdsl.LM("local/smollm2", cache=False)}
            for mode in MODES:
                lms[f"served, constrain={mode}"] = lmdsl.LM(f"openai/{MODEL_ALIAS}", api_base=url, constrain=mode,
                                                           cache=False)
            if cpp_url:
                for mode in ("auto", "none"):
                    lms[f"llama-server (C++), constrain={mode}"] = lmdsl.LM(
                        f"openai/{MODEL_ALIAS}", api_base=cpp_url, constrain=mode, cache=False)
            results: dict[str, list[dict]] = {name: [] for name in lms}
            for i, row in enumerate(rows):
                for name, lm in lms.items():
                    results[name].append(run_row(program, lm, row))
                if (i + 1) % 20 == 0:
                    print(f"{task}: {i + 1}/{len(rows)} rows", file=sys.stderr, flush=True)
            for name in lms:
                table.append({"task": task, **summarise(name, results[name])})
                print(json.dumps(table[-1]), file=sys.stderr, flush=True)  # a cut-off run keeps what it measured
            if args.dspy_python:
                got = dspy_rows(args.dspy_python, url, task, rows[: args.dspy_rows or len(rows)])
                if got is not None:
                    table.append({"task": task, **summarise("DSPy 3.4 (same server)", got)})
            else:
                print("DSPy: skipped (pass --dspy-python PATH to an interpreter with dspy installed)", file=sys.stderr)
    print(f"load average at the end: {os.getloadavg()}")
    header = ["task", "config", "rows", "accuracy", "parse_failures", "calls_per_row",
              "completion_tokens_per_row", "seconds_per_row"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for line in table:
        print("| " + " | ".join(str(line[h]) for h in header) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
