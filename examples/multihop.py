"""Multi-hop question answering on HotPotQA (the seed's MultiHopQA / "simplified Baleen").

    lmdsl compile examples/multihop.py:MultiHop --optimizer bootstrap
    lmdsl evaluate MultiHop.compiled.json --trust-file

HotPotQA questions need two paragraphs, and the second is often named only in the first
("the band who released *Tinted Windows*" -> the band's page). So each hop writes a search
query from the question and the context found so far, retrieves with it, and adds the new
passages to the context (without duplicates); after two hops the answer is written from
the whole context.

Two ``Suggest`` rules keep the queries useful: a query is shorter than 100 characters, and
it is not (nearly) a repeat of an earlier hop's query. When one fails, that hop's query is
asked again with the failed query and the rule in its prompt, and ``forward`` runs again
(other calls come from the LM cache); after ``max_backtracks`` re-runs the program goes on
with what it has. ``with lmdsl.context(assertions="off")`` turns them off.

Nobody labels the queries. ``BootstrapFewShot`` runs the program over the trainset and,
whenever the final answer is right, keeps every hop's query as a demo for that hop's
predictor: good queries are learned from the model's own runs that ended well.

``metric`` is answer exact match; ``answer_f1`` and ``gold_title_recall`` (the fraction of
the gold supporting titles in the accumulated context) are there for evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmdsl import ChainOfThought, Prediction, Retrieve, Suggest, program, signature
from lmdsl.evaluate import f1_score

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "hotpotqa_corpus.jsonl"


@signature
def generate_query(context: list[str], question: str) -> str:
    """Write a simple search query that will help answer a complex question.

    Args:
        context: passages found so far; they may name what to look up next.
        question: the question to answer.

    Returns:
        query: a short search query naming the entity to look up.
    """


@signature
def generate_answer(context: list[str], question: str) -> str:
    """Answer questions with short factoid answers.

    Args:
        context: passages that may contain relevant facts.
        question: the question to answer.

    Returns:
        answer: often between 1 and 5 words, copied from the context when possible.
    """


MAX_QUERY_CHARS = 100


def is_distinct(query: str, previous: list[str]) -> bool:
    """Not (nearly) one of the earlier queries: HotPotQA token F1 below 0.8 with each of them."""
    return all(f1_score(query, earlier) < 0.8 for earlier in previous)


@program
class MultiHop:
    def __init__(self, passages_per_hop: int = 3, max_hops: int = 2) -> None:
        self.retrieve = Retrieve(k=passages_per_hop)
        self.generate_query = [ChainOfThought(generate_query) for _ in range(max_hops)]
        self.generate_answer = ChainOfThought(generate_answer)
        self.max_hops = max_hops

    def forward(self, question: str):
        context: list[str] = []
        titles: list[str] = []
        queries: list[str] = []
        for hop in range(self.max_hops):
            query = self.generate_query[hop](context=context, question=question).query
            Suggest(
                len(query) < MAX_QUERY_CHARS,
                f"Query should be short and less than {MAX_QUERY_CHARS} characters",
                target=self.generate_query[hop],
                name="query length",
            )
            Suggest(
                is_distinct(query, queries),
                "Query should be distinct from: " + "; ".join(f"{i + 1}) {q}" for i, q in enumerate(queries)),
                target=self.generate_query[hop],
                name="distinct queries",
            )
            queries.append(query)
            hits = self.retrieve(query)
            # New lists, never appends: the trace holds the context each hop was shown (its demos).
            new = [(p, t) for p, t in zip(hits.passages, hits.titles) if p not in context]
            context = context + [p for p, _ in new]
            titles = titles + [t for _, t in new]
        prediction = self.generate_answer(context=context, question=question)
        return Prediction(
            context=context, titles=titles, queries=queries, reasoning=prediction.reasoning, answer=prediction.answer
        )


# ---- metrics, data and retriever: shared with the RAG example --------------------------

# The examples folder is on sys.path (the CLI puts a target's folder there), so siblings import.
from rag import answer_exact_match, answer_f1, load_hotpotqa, make_retriever  # noqa: E402, F401
from rag import passage_recall as gold_title_recall  # noqa: E402, F401

metric = answer_exact_match

trainset = load_hotpotqa("train", limit=20)
valset = load_hotpotqa("dev", limit=20)
devset = load_hotpotqa("dev")


def __getattr__(name: str) -> Any:
    # ``retriever`` is built on first access (the CLI's ``getattr(module, "retriever")``).
    if name == "retriever":
        return make_retriever()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
