"""RAG and MultiHop (examples/) on the HotPotQA sample with the embedded model, before and after compile.

    python bench/hotpotqa.py retrieval                      # no LM: gold-title recall@k of the question alone
    python bench/hotpotqa.py baseline --program rag         # zero-shot answer EM/F1, recall, LM calls, time
    python bench/hotpotqa.py compile  --program rag         # BootstrapFewShot on the trainset; saves the program
    python bench/hotpotqa.py compiled --program rag         # the saved program on the same dev questions
    python bench/hotpotqa.py baseline --program rag --retriever hybrid   # any registered retriever instead of bm25

(and the same with ``--program multihop``; ``-k 2`` keeps its prompts inside the embedded
model's 2,048-token window; ``--teacher-answer-demos FILE`` bootstraps MultiHop with a
teacher whose answerer shows a compiled RAG's demos, leaving their questions out of the
trainset so that no run passes by copying its demo). Stages are separate commands so that each run
stays a few minutes on a shared 2-core machine; ``--out`` collects every stage's figures
in one JSON file (default ``/tmp/lmdsl-bench-hotpotqa.json``), keyed by program and stage.

Every stage uses a fresh LM cache directory unless ``--cache-dir`` is given, so LM calls
and times are of calls that really reached the model. llama.cpp runs on one thread unless
``LMDSL_LOCAL_THREADS`` says otherwise (on a busy shared machine that is the fastest). The BM25 index is built in that
directory too (a few seconds, not counted in the stage's time).

Figures per evaluation: answer exact match and F1 (HotPotQA normalisation, %), gold-title
recall of every passage the run retrieved (%; taken from the trace, so measured even when
the answer could not be parsed), rows that raised (a reply that could not be parsed after
the re-asks scores 0), LM calls, tokens, wall time; for MultiHop also the Suggest pass
rates (final attempt of each run). Per-question rows are kept in the ``--out`` file, so
figures on a subset (``summarize``) need no new run.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

PROGRAMS = ("rag", "multihop")


def _example(name: str) -> Any:
    import importlib

    return importlib.import_module(name)


def _configure(args: argparse.Namespace, retriever: Any) -> Any:
    import lmdsl

    lm = lmdsl.LM(args.lm)
    lmdsl.configure(lm=lm, retriever=retriever, display_progress=not args.quiet, num_threads=1)
    return lm


def _retriever(module: Any, args: argparse.Namespace) -> Any:
    """The example's BM25 retriever, or ``--retriever NAME`` (e.g. ``hybrid``, ``qdrant``) over the same corpus."""
    if args.retriever is None:
        return module.make_retriever()
    import lmdsl

    return lmdsl.get_retriever(args.retriever, corpus=str(module.CORPUS))


def _program(module: Any, args: argparse.Namespace) -> Any:
    if module.__name__ == "rag":
        return module.RAG(k=args.k)
    return module.MultiHop(passages_per_hop=args.k, max_hops=2)


def _recall(module: Any) -> Any:
    return module.passage_recall if module.__name__ == "rag" else module.gold_title_recall


def retrieved_titles(trace: list[Any]) -> list[str]:
    """Titles of every passage the run retrieved (all hops), in order, each once."""
    from lmdsl import Retrieve

    titles: list[str] = []
    for entry in trace:
        if isinstance(entry.predictor, Retrieve):
            titles += [t for t in entry.outputs.titles if t not in titles]
    return titles


def evaluate(module: Any, program: Any, devset: list[Any], quiet: bool = False) -> dict[str, Any]:
    """One pass over the devset, one question at a time.

    Answer EM and F1 score 0 for a run that raised (a reply that could not be parsed after
    the re-asks); gold-title recall is taken from the passages the run retrieved (its trace),
    so it is measured even when the final answer failed to parse.
    """
    from lmdsl.assertions import counting
    from lmdsl.evaluate.evaluate import call_program
    from lmdsl.program import tracing
    from lmdsl.utils.usage import track_usage

    rows = []
    start = time.perf_counter()
    with track_usage() as usage, counting() as checks:
        for i, example in enumerate(devset, 1):
            error = None
            prediction = None
            with tracing() as trace:
                try:
                    prediction = call_program(program, example)
                except Exception as exc:
                    error = f"{type(exc).__name__}: {str(exc)[:160]}"
            gold = set(example.supporting_titles)
            titles = retrieved_titles(trace)
            row = {
                "gold": example.answer,
                "predicted": getattr(prediction, "answer", None),
                "em": bool(prediction is not None and module.metric(example, prediction)),
                "f1": round(module.answer_f1(example, prediction), 3) if prediction is not None else 0.0,
                "recall": len(gold & set(titles)) / len(gold),
                "passages": len(titles),
                "queries": list(getattr(prediction, "queries", []) or []),
                "error": error,
            }
            rows.append(row)
            if not quiet:
                print(f"  [{i}/{len(devset)}] em={int(row['em'])} recall={row['recall']:.1f} "
                      f"{'ERROR ' if error else ''}{str(row['predicted'])[:50]!r} (gold {example.answer!r})",
                      file=sys.stderr, flush=True)
    wall = time.perf_counter() - start
    n = len(rows)
    out: dict[str, Any] = {
        "n": n,
        **summarize(rows),
        "lm_calls": usage.lm_calls,
        "cached_calls": usage.cached_calls,
        "tokens": usage.total_tokens,
        "wall_s": round(wall, 1),
        "s_per_question": round(wall / max(1, n), 2),
        "first_error": next((r["error"] for r in rows if r["error"]), None),
    }
    if module.__name__ == "multihop":
        out["suggest"] = checks.to_dict()
    out["rows"] = rows
    return out


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """EM, F1, recall (%), errors and passages per question over evaluation rows (any subset)."""
    n = max(1, len(rows))
    return {
        "answer_em": round(100 * sum(r["em"] for r in rows) / n, 1),
        "answer_f1": round(100 * sum(r["f1"] for r in rows) / n, 1),
        "gold_title_recall": round(100 * sum(r["recall"] for r in rows) / n, 1),
        "errors": sum(1 for r in rows if r["error"]),
        "passages_per_question": round(sum(r["passages"] for r in rows) / n, 2),
    }


def stage_retrieval(args: argparse.Namespace) -> dict[str, Any]:
    rag = _example("rag")
    start = time.perf_counter()
    retriever = _retriever(rag, args)
    built = time.perf_counter() - start
    devset = rag.devset[: args.dev] if args.dev else rag.devset
    out: dict[str, Any] = {"n": len(devset), "index_status": retriever.index_status, "index_s": round(built, 2)}
    for k in (1, 2, 3, 4, 6, 10):
        recalls = []
        for ex in devset:
            titles = {p.title for p in retriever(ex.question, k)}
            gold = set(ex.supporting_titles)
            recalls.append(len(gold & titles) / len(gold))
        out[f"recall@{k}"] = round(100 * statistics.mean(recalls), 1)
        out[f"both_gold@{k}"] = round(100 * statistics.mean(float(r == 1.0) for r in recalls), 1)
    return out


def stage_eval(args: argparse.Namespace, compiled: bool) -> dict[str, Any]:
    module = _example(args.program)
    retriever = _retriever(module, args)
    _configure(args, retriever)
    program = _program(module, args)
    demos: dict[str, int] = {}
    if compiled:
        if not Path(args.artifact).exists():
            raise SystemExit(f"{args.artifact}: no compiled program; run the 'compile' stage first")
        program.load(args.artifact)
        demos = {path: len(p.demos) for path, p in program.named_predictors()}
    devset = module.devset[: args.dev]
    out = evaluate(module, program, devset, quiet=args.quiet)
    if compiled:
        out["demos"] = demos
    return out


def stage_compile(args: argparse.Namespace) -> dict[str, Any]:
    from lmdsl.optimizers.bootstrap import BootstrapFewShot
    from lmdsl.utils.usage import track_usage

    module = _example(args.program)
    retriever = _retriever(module, args)
    _configure(args, retriever)
    trainset = module.load_hotpotqa("train", limit=args.train)  # the module keeps 20; the file has 100
    teacher = _teacher(module, args)
    if teacher is not None:
        # A question whose answer the teacher's demo shows would pass by copying: leave it out.
        shown = {d.question for d in teacher.generate_answer.demos}
        trainset = [ex for ex in trainset if ex.question not in shown]
    optimizer = BootstrapFewShot(
        module.metric,
        max_bootstrapped_demos=args.demos,
        max_labeled_demos=args.labeled,
        num_threads=1,
        teacher=teacher,
        max_errors=len(trainset),  # a 135M model's replies often fail to parse: count them, do not stop
    )
    start = time.perf_counter()
    with track_usage() as usage:
        compiled = optimizer.compile(_program(module, args), trainset=trainset)
    wall = time.perf_counter() - start
    compiled.save(args.artifact, metadata={"bench": "hotpotqa", "trainset_size": len(trainset)})
    predictors = {}
    for path, p in compiled.named_predictors():
        boot = [d for d in p.demos if d.get("augmented")]
        predictors[path] = {
            "demos": len(p.demos),
            "bootstrapped": len(boot),
            "examples": [
                {k: d[k] for k in ("question", "query", "answer") if k in d} for d in boot
            ],
        }
    return {
        "trainset": len(trainset),
        "bootstrap": optimizer.stats,
        "predictors": predictors,
        "lm_calls": usage.lm_calls,
        "tokens": usage.total_tokens,
        "wall_s": round(wall, 1),
        "artifact": args.artifact,
    }


def _teacher(module: Any, args: argparse.Namespace) -> Any:
    """With ``--teacher-answer-demos FILE``: the program whose ``generate_answer`` shows the
    bootstrapped demos of that compiled file (e.g. a compiled RAG: same answer signature)."""
    if not args.teacher_answer_demos:
        return None
    from lmdsl import Example

    state = json.loads(Path(args.teacher_answer_demos).read_text())
    demos = [d for d in state["predictors"]["generate_answer"]["demos"] if d.get("augmented")]
    teacher = _program(module, args)
    teacher.generate_answer.demos = [
        Example({k: v for k, v in d.items() if k != "augmented"}).with_inputs("context", "question") for d in demos
    ]
    return teacher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=("retrieval", "baseline", "compile", "compiled"))
    parser.add_argument("--program", choices=PROGRAMS, default="rag")
    parser.add_argument("--lm", default="local/smollm2")
    parser.add_argument("--dev", type=int, default=30, help="dev questions (retrieval: 0 = all 100)")
    parser.add_argument("--train", type=int, default=20, help="trainset questions for compile")
    parser.add_argument("--demos", type=int, default=2, help="max bootstrapped demos per predictor")
    parser.add_argument("--labeled", type=int, default=2, help="max demos per predictor in all (labeled fill the rest)")
    parser.add_argument("--teacher-answer-demos", metavar="FILE",
                        help="compile: teach with a program whose answerer shows FILE's bootstrapped answer demos")
    parser.add_argument("--retriever", help="a registered retriever over the HotPotQA corpus (default: the "
                        "examples' bm25; e.g. hybrid, qdrant, sqlite-fts)")
    parser.add_argument("-k", type=int, default=3, help="passages per retrieval (per hop for multihop)")
    parser.add_argument("--artifact", help="compiled program file (default /tmp/lmdsl-bench-<program>.json)")
    parser.add_argument("--cache-dir", help="LM/index cache directory (default: a fresh temporary one)")
    parser.add_argument("--out", default="/tmp/lmdsl-bench-hotpotqa.json", help="JSON file collecting the figures")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()
    args.artifact = args.artifact or f"/tmp/lmdsl-bench-{args.program}.json"
    os.environ["LMDSL_CACHE_DIR"] = args.cache_dir or tempfile.mkdtemp(prefix="lmdsl-bench-hotpotqa-")
    # On a machine shared with other busy processes one llama.cpp thread is several times
    # faster than two that spin waiting for each other (measured: 1.3 s vs 9.4 s per call).
    os.environ.setdefault("LMDSL_LOCAL_THREADS", "1")

    if args.stage == "retrieval":
        key, result = "retrieval", stage_retrieval(args)
    elif args.stage == "compile":
        key, result = f"{args.program}/compile", stage_compile(args)
    else:
        key, result = f"{args.program}/{args.stage}", stage_eval(args, compiled=args.stage == "compiled")
    result["settings"] = {
        k: getattr(args, k)
        for k in ("lm", "dev", "train", "demos", "labeled", "k", "teacher_answer_demos", "retriever")
    }

    out = Path(args.out)
    collected = json.loads(out.read_text()) if out.exists() else {}
    collected[key] = result
    out.write_text(json.dumps(collected, indent=2, ensure_ascii=False) + "\n")
    shown = {k: v for k, v in result.items() if k != "rows"}
    print(json.dumps({key: shown}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
