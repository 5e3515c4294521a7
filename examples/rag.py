"""Retrieval-augmented question answering on HotPotQA: retrieve passages, then answer.

    lmdsl compile examples/rag.py:RAG --optimizer bootstrap        # demos from the model's own right answers
    lmdsl evaluate RAG.compiled.json --trust-file --devset examples/data/hotpotqa_dev.jsonl
    lmdsl run RAG.compiled.json --trust-file --input '{"question": "Which magazine is about video games, Red Herring or GameFan?"}'

The module-level ``retriever`` (BM25 over ``examples/data/hotpotqa_corpus.jsonl``) is what the
CLI configures when ``--retriever`` is not given; ``--retriever sqlite-fts -R corpus=...``
swaps it. It is built on first use, not at import, so importing this file for its metrics
or program costs no index build.

``metric`` is answer exact match (HotPotQA normalisation); ``answer_f1`` and
``passage_recall`` (the fraction of the question's gold supporting titles among the
retrieved passages) are there for evaluation. See docs/retrieval.md for measured figures.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import lmdsl
from lmdsl import ChainOfThought, Prediction, Retrieve, program, signature
from lmdsl.data import load_jsonl
from lmdsl.evaluate import f1_score, normalize_text

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "hotpotqa_corpus.jsonl"


@signature
def generate_answer(context: list[str], question: str) -> str:
    """Answer questions with short factoid answers.

    Args:
        context: passages that may contain relevant facts.
        question: the question to answer.

    Returns:
        answer: often between 1 and 5 words, copied from the context when possible.
    """


@program
class RAG:
    def __init__(self, k: int = 3) -> None:
        self.retrieve = Retrieve(k=k)
        self.generate_answer = ChainOfThought(generate_answer)

    def forward(self, question: str):
        hits = self.retrieve(question)
        prediction = self.generate_answer(context=hits.passages, question=question)
        return Prediction(
            context=hits.passages, titles=hits.titles, reasoning=prediction.reasoning, answer=prediction.answer
        )


# ---- metrics ---------------------------------------------------------------------------


def _golds(example: Any) -> list[str]:
    answer = example.answer
    return list(answer) if isinstance(answer, list | tuple) else [answer]


def answer_exact_match(example: Any, prediction: Any, trace: Any = None) -> bool:
    """The predicted answer equals the gold one after HotPotQA normalisation."""
    predicted = normalize_text(prediction.answer)
    return any(predicted == normalize_text(gold) for gold in _golds(example))


def answer_f1(example: Any, prediction: Any, trace: Any = None) -> float:
    """HotPotQA token F1 of the predicted answer (yes/no answers score only when exact)."""
    return max(f1_score(prediction.answer, gold) for gold in _golds(example))


def passage_recall(example: Any, prediction: Any, trace: Any = None) -> float:
    """Fraction of the gold ``supporting_titles`` among the titles of the retrieved passages."""
    gold = set(example.supporting_titles)
    if not gold:
        return 0.0
    return len(gold & set(prediction.titles)) / len(gold)


metric = answer_exact_match


# ---- data and retriever ------------------------------------------------------------------

KEEP = ("question", "answer", "supporting_titles")


def load_hotpotqa(split: str, limit: int | None = None) -> list[lmdsl.Example]:
    """HotPotQA rows with only the fields the program and metrics use (compiled demos stay small)."""
    rows = load_jsonl(DATA / f"hotpotqa_{split}.jsonl", inputs=["question"], limit=limit)
    return [lmdsl.Example({k: row[k] for k in KEEP}).with_inputs("question") for row in rows]


trainset = load_hotpotqa("train", limit=20)
valset = load_hotpotqa("dev", limit=20)
devset = load_hotpotqa("dev")


@functools.cache
def make_retriever() -> Any:
    """BM25 over the HotPotQA paragraph corpus (index cached on disk after the first build)."""
    return lmdsl.get_retriever("bm25", corpus=str(CORPUS))


def __getattr__(name: str) -> Any:
    # ``retriever`` is built on first access (the CLI's ``getattr(module, "retriever")``).
    if name == "retriever":
        return make_retriever()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
