"""Benchmark lmdsl's retrievers on the HotPotQA sample: build, load, throughput, recall@k.

    python bench/retrieve.py [--corpus PATH] [--questions PATH] [--repeat N] [--dense-repeat N]
                             [--no-dense] [--json]

For each retriever (``bm25``, ``bm25`` without stemming, ``sqlite-fts`` when the plugin is
installed, and with the embeddings extra and ``lmdsl-qdrant`` installed: ``dense`` = Qdrant in
local mode over the offline all-MiniLM-L6-v2, and ``hybrid`` = bm25 + dense fused by reciprocal
rank) it reports the cold index build time (empty cache), the warm load time (index
cached on disk; both exclude module imports and loading the embedding model), queries per second one at a time and through ``batch``, and recall@k: the
fraction of each question's gold ``supporting_titles`` found among the top k passages,
with the question itself as the query. Indexes go to a temporary cache directory per retriever that is
deleted afterwards, so "cold" really is cold and the user's cache is untouched; the hybrid
row reuses the dense row's stored Qdrant index, so its build is its BM25 build (the dense
row's build is the embedding cost it would add). Dense rows run the question set
``--dense-repeat`` times for qps (each query is embedded on the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KS = (3, 5, 10)


def _factories(dense: bool = True) -> dict[str, Callable[[str], Any]]:
    import importlib

    from lmdsl.retrievers import BM25Retriever

    # import the heavy modules now, so that the first "cold build" does not also pay for them
    for module in ("numpy", "bm25s", "snowballstemmer", "sqlite3"):
        try:
            importlib.import_module(module)
        except ImportError:
            pass

    factories: dict[str, Callable[[str], Any]] = {
        "bm25": lambda corpus: BM25Retriever(corpus),
        "bm25 (no stemming)": lambda corpus: BM25Retriever(corpus, stemmer=None),
    }
    try:
        from lmdsl_sqlite_fts import SqliteFTSRetriever
    except ImportError:
        print("(lmdsl-sqlite-fts is not installed: skipping sqlite-fts)", file=sys.stderr)
    else:
        factories["sqlite-fts"] = lambda corpus: SqliteFTSRetriever(corpus)
    if dense:
        factories.update(_dense_factories())
    return factories


def _dense_factories() -> dict[str, Callable[[str], Any]]:
    try:
        import sentence_transformers  # noqa: F401

        from lmdsl_qdrant import QdrantRetriever
    except ImportError:
        print("(lmdsl-qdrant or the embeddings extra is not installed: skipping dense and hybrid)", file=sys.stderr)
        return {}
    from lmdsl.embeddings import Embedder
    from lmdsl.retrievers.hybrid import HybridRetriever

    embedder = Embedder("local/all-minilm-l6-v2")
    started = time.perf_counter()
    embedder.embed(["load the model before timing"])
    print(f"(embedding model loaded in {time.perf_counter() - started:.1f} s, not counted below)", file=sys.stderr)

    def dense(corpus: str) -> Any:
        return QdrantRetriever(corpus, embedder=embedder)

    def hybrid(corpus: str) -> Any:
        return HybridRetriever(corpus, retrievers=[_bm25(corpus), dense(corpus)])

    return {"dense (qdrant, MiniLM)": dense, "hybrid (bm25 + dense)": hybrid}


def _bm25(corpus: str) -> Any:
    from lmdsl.retrievers import BM25Retriever

    return BM25Retriever(corpus, k=20)


def _close(retriever: Any) -> None:
    close = getattr(retriever, "close", None)
    if callable(close):
        close()  # a local Qdrant store is reopened from disk by the next load


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench_one(
    factory: Callable[[str], Any], corpus: str, questions: list[dict], repeat: int
) -> dict[str, Any]:
    build_s, built = _timed(lambda: factory(corpus))
    _close(built)
    loads = []
    for _ in range(3):
        loads.append(_timed(lambda: factory(corpus)))
        if len(loads) < 3:
            _close(loads[-1][1])
    load_s = statistics.median(t for t, _ in loads)
    retriever = loads[-1][1]
    assert retriever.index_status == "loaded", retriever.index_status

    queries = [q["question"] for q in questions] * repeat
    single_s, _ = _timed(lambda: [retriever(q, k=10) for q in queries])
    batch_s, results = _timed(lambda: retriever.batch(queries, k=10))

    recall = {}
    for k in KS:
        per_question = []
        for q, hits in zip(questions, results):
            gold = set(q["supporting_titles"])
            found = {h.title for h in hits[:k]}
            per_question.append(len(gold & found) / len(gold))
        recall[k] = statistics.fmean(per_question)
    _close(retriever)
    return {
        "build_s": build_s,
        "load_s": load_s,
        "qps_single": len(queries) / single_s,
        "qps_batch": len(queries) / batch_s,
        "recall": recall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(ROOT / "examples/data/hotpotqa_corpus.jsonl"))
    parser.add_argument("--questions", default=str(ROOT / "examples/data/hotpotqa_dev.jsonl"))
    parser.add_argument(
        "--repeat", type=int, default=5, help="query the question set this many times for qps"
    )
    parser.add_argument("--dense-repeat", type=int, default=1, help="the same for the dense and hybrid rows")
    parser.add_argument("--no-dense", action="store_true", help="skip the dense and hybrid rows")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)

    with open(args.questions, encoding="utf-8") as f:
        questions = [json.loads(line) for line in f if line.strip()]
    with open(args.corpus, encoding="utf-8") as f:
        n_passages = sum(1 for line in f if line.strip())

    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="lmdsl-bench-") as root:
        for name, factory in _factories(dense=not args.no_dense).items():
            print(f"benchmarking {name} ...", file=sys.stderr)
            is_dense = name.startswith(("dense", "hybrid"))
            # one cache per row, so each cold build is cold; hybrid reuses the dense row's Qdrant index
            os.environ["LMDSL_CACHE_DIR"] = os.path.join(root, "dense" if is_dense else name)
            repeat = args.dense_repeat if is_dense else args.repeat
            rows[name] = bench_one(factory, args.corpus, questions, repeat)
            rows[name]["repeat"] = repeat

    if args.json:
        print(json.dumps({"passages": n_passages, "questions": len(questions), "results": rows}, indent=2))
        return 0
    print(
        f"corpus: {args.corpus} ({n_passages} passages); {len(questions)} questions x {args.repeat} for qps"
        f" ({args.dense_repeat} for dense rows)"
    )
    header = [
        "retriever",
        "build (cold)",
        "load (warm)",
        "qps single",
        "qps batch",
        *[f"recall@{k}" for k in KS],
    ]
    table = [
        [
            name,
            f"{r['build_s'] * 1000:.0f} ms",
            f"{r['load_s'] * 1000:.0f} ms",
            f"{r['qps_single']:.0f}",
            f"{r['qps_batch']:.0f}",
            *[f"{r['recall'][k]:.3f}" for k in KS],
        ]
        for name, r in rows.items()
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *table)]
    for line in [header, ["-" * w for w in widths], *table]:
        print(
            "  ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(line, widths))
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
