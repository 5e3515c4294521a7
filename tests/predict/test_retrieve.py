"""Retrieve: the configured retriever, k, multi-query merging, tracing, and programs that use it."""

from __future__ import annotations

import copy
import threading

import pytest

import lmdsl
from lmdsl import ChainOfThought, ConfigError, Passage, Prediction, Retrieve, program, signature
from lmdsl.optimizers.bootstrap import BootstrapFewShot
from lmdsl.program import tracing
from lmdsl.retrievers import BM25Retriever

CORPUS = [
    {"id": "paris", "title": "Paris", "text": "Paris is the capital and most populous city of France."},
    {"id": "berlin", "title": "Berlin", "text": "Berlin is the capital and largest city of Germany."},
    {"id": "eiffel", "title": "Eiffel Tower", "text": "The Eiffel Tower is a wrought-iron lattice tower in Paris."},
    {"id": "rhine", "title": "Rhine", "text": "The Rhine flows through Switzerland, Germany and the Netherlands."},
    {"id": "guido", "title": "Guido van Rossum", "text": "Guido van Rossum is a Dutch programmer who created Python."},
]


class TableRetriever:
    """A retriever with fixed answers per query and a lock (like real indexes), counting calls."""

    def __init__(self, table: dict[str, list[Passage]]):
        self.table = table
        self.calls: list[tuple[str, int]] = []
        self.batches: list[tuple[list[str], int]] = []
        self._lock = threading.Lock()

    def __call__(self, query: str, k: int) -> list[Passage]:
        with self._lock:
            self.calls.append((query, k))
        return self.table.get(query, [])[:k]

    def batch(self, queries: list[str], k: int) -> list[list[Passage]]:
        self.batches.append((list(queries), k))
        return [self.table.get(q, [])[:k] for q in queries]


def P(pid: str, score: float, title: str | None = None) -> Passage:
    return Passage(text=f"text of {pid}", title=title if title is not None else pid.upper(), id=pid, score=score)


@pytest.fixture(scope="module")
def bm25():
    return BM25Retriever(CORPUS, stemmer=None)


# ---- k and the prediction ---------------------------------------------------------------


def test_returns_top_k_with_titles_ids_scores(bm25):
    pred = Retrieve(k=2, retriever=bm25)("capital of Germany")
    assert isinstance(pred, Prediction)
    assert pred.ids[0] == "berlin"
    assert len(pred.passages) == len(pred.titles) == len(pred.ids) == len(pred.scores) == 2
    assert pred.passages[0] == "Berlin | Berlin is the capital and largest city of Germany."
    assert pred.titles[0] == "Berlin"
    assert pred.scores == sorted(pred.scores, reverse=True)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_bounds_the_result(bm25, k):
    assert len(Retrieve(k=k, retriever=bm25)("capital city Paris Germany Rhine").passages) == k


def test_k_per_call_overrides_the_module_default():
    table = TableRetriever({"q": [P("a", 3), P("b", 2), P("c", 1)]})
    retrieve = Retrieve(k=1, retriever=table)
    assert retrieve("q").ids == ["a"]
    assert retrieve("q", k=3).ids == ["a", "b", "c"]
    assert table.calls == [("q", 1), ("q", 3)]


def test_with_titles_false_gives_bare_text(bm25):
    pred = Retrieve(k=1, retriever=bm25, with_titles=False)("capital of Germany")
    assert pred.passages == ["Berlin is the capital and largest city of Germany."]
    assert pred.titles == ["Berlin"]


def test_passage_without_title_is_its_text():
    table = TableRetriever({"q": [Passage(text="untitled text", id="1", score=1.0)]})
    assert Retrieve(retriever=table)("q").passages == ["untitled text"]


def test_fewer_matches_than_k(bm25):
    pred = Retrieve(k=3, retriever=bm25)("Guido")
    assert pred.ids == ["guido"]
    assert Retrieve(k=3, retriever=bm25)("zzzz unknown words").passages == []


@pytest.mark.parametrize("k", [0, -1, 1.5, "3", None])
def test_bad_k_is_refused(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        Retrieve(k=k)


def test_a_plain_function_is_a_retriever():
    def search(query: str, k: int) -> list[Passage]:
        return [Passage(text=f"{query} #{i}", id=str(i), score=float(-i)) for i in range(k)]

    pred = Retrieve(k=2, retriever=search)("hello")
    assert pred.passages == ["hello #0", "hello #1"]
    assert pred.ids == ["0", "1"]


# ---- where the retriever comes from --------------------------------------------------------


def test_no_retriever_configured_is_a_config_error():
    with pytest.raises(ConfigError, match=r"no retriever configured.*lmdsl.configure\(retriever=.*--retriever bm25"):
        Retrieve(k=2)("anything")


def test_configured_retriever_is_used(bm25):
    lmdsl.configure(retriever=bm25)
    assert Retrieve(k=1)("capital of France").ids == ["paris"]


def test_context_overrides_configure_and_argument_overrides_both(bm25):
    other = TableRetriever({"capital of France": [P("from-context", 1.0)]})
    explicit = TableRetriever({"capital of France": [P("explicit", 1.0)]})
    lmdsl.configure(retriever=bm25)
    with lmdsl.context(retriever=other):
        assert Retrieve(k=1)("capital of France").ids == ["from-context"]
        assert Retrieve(k=1, retriever=explicit)("capital of France").ids == ["explicit"]
    assert Retrieve(k=1)("capital of France").ids == ["paris"]


def test_registered_bm25_by_name(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(f'{{"id": "{r["id"]}", "title": "{r["title"]}", "text": "{r["text"]}"}}\n' for r in CORPUS))
    retriever = lmdsl.get_retriever("bm25", corpus=str(path), k=2)
    lmdsl.configure(retriever=retriever)
    assert Retrieve(k=1)("Dutch programmer").ids == ["guido"]


# ---- several queries ----------------------------------------------------------------------


def rrf(*ranks: int) -> float:
    return sum(1 / (Retrieve.RRF_K + r) for r in ranks)


def test_list_query_merges_by_reciprocal_rank_without_duplicates():
    table = TableRetriever({
        "q1": [P("a", 5.0), P("b", 1.0)],
        "q2": [P("c", 4.0), P("b", 3.0)],
    })
    pred = Retrieve(k=2, retriever=table)(["q1", "q2"])
    assert pred.ids == ["b", "a", "c"]  # b is in both lists; every query's top k, not cut back to k
    assert pred.scores == pytest.approx([rrf(2, 2), rrf(1), rrf(1)])  # fused scores, not raw ones
    assert table.batches == [(["q1", "q2"], 2)]  # one batched call when the retriever has batch()


def test_list_query_merge_ignores_raw_scores_across_queries():
    # BM25 scores of different queries are not comparable: a query of rare words scores far
    # higher than one of common words, and must not push the other query's best hit down.
    table = TableRetriever({
        "rare": [P("a", 50.0), P("b", 40.0), P("c", 30.0)],
        "common": [P("d", 2.0), P("e", 1.0)],
    })
    pred = Retrieve(k=3, retriever=table)(["rare", "common"])
    assert pred.ids == ["a", "d", "b", "e", "c"]  # rank ties go to the earlier query
    assert pred.scores == sorted(pred.scores, reverse=True)
    assert Retrieve(k=3, retriever=table)(["common", "rare"]).ids == ["d", "a", "e", "b", "c"]


def test_list_query_without_batch_calls_once_per_query():
    def search(query: str, k: int) -> list[Passage]:
        return [P(f"{query}-hit", 1.0)]

    assert Retrieve(k=1, retriever=search)(["x", "y"]).ids == ["x-hit", "y-hit"]


def test_merge_deduplicates_by_title_when_ids_are_missing():
    same = Passage(text="t", title="Same", score=1.0)
    table = TableRetriever({"q1": [same], "q2": [Passage(text="t", title="Same", score=2.0)]})
    pred = Retrieve(k=2, retriever=table)(["q1", "q2"])
    assert pred.titles == ["Same"] and pred.scores == pytest.approx([rrf(1, 1)])


def test_single_item_list_is_cut_to_k(bm25):
    assert len(Retrieve(k=1, retriever=bm25)(["capital city"]).passages) == 1


def test_empty_queries_are_skipped_and_all_empty_is_an_error():
    table = TableRetriever({"q": [P("a", 1.0)]})
    assert Retrieve(retriever=table)(["", "q", ""]).ids == ["a"]
    with pytest.raises(ValueError, match="empty query"):
        Retrieve(retriever=table)(["", ""])
    with pytest.raises(ValueError, match="empty query"):
        Retrieve(retriever=table)([])


def test_list_query_on_bm25_matches_single_queries(bm25):
    retrieve = Retrieve(k=1, retriever=bm25)
    merged = retrieve(["capital of France", "Dutch programmer"])
    assert set(merged.ids) == {retrieve("capital of France").ids[0], retrieve("Dutch programmer").ids[0]}


# ---- tracing, copies and programs -----------------------------------------------------------


def test_calls_are_traced_but_retrieve_is_not_a_predictor(bm25):
    retrieve = Retrieve(k=1, retriever=bm25)
    with tracing() as trace:
        pred = retrieve("capital of France")
    assert len(trace) == 1
    assert trace[0].predictor is retrieve
    assert trace[0].inputs == {"query": "capital of France", "k": 1}
    assert trace[0].outputs is pred
    assert retrieve.named_predictors() == []


def test_deepcopy_shares_the_retriever(bm25):
    """Optimizers deep-copy programs: the index (which holds locks) must be shared, not copied."""
    retrieve = Retrieve(k=2, retriever=bm25)
    clone = copy.deepcopy(retrieve)
    assert clone is not retrieve
    assert clone.retriever is bm25
    assert clone.k == 2
    assert clone("capital of France").ids == retrieve("capital of France").ids


ANSWER = signature("context: list[str], question -> answer", instructions="Answer from the context.")


@program
class TinyRAG:
    def __init__(self, retriever=None):
        self.retrieve = Retrieve(k=1, retriever=retriever)
        self.answer = ChainOfThought(ANSWER)

    def forward(self, question: str):
        context = self.retrieve(question).passages
        return self.answer(context=context, question=question)


def _answer_from_context(inputs):
    """Answers with the first passage's title: right only when retrieval found the right passage."""
    context = inputs["context"]
    title = context[0].split(" | ")[0] if context else "unknown"
    return {"reasoning": f"the passage is about {title}", "answer": title}


def test_retrieve_inside_a_compiled_program(bm25, scripted, tmp_path):
    lm = scripted(_answer_from_context)
    trainset = [
        lmdsl.Example(question="Which city is the capital of France?", answer="Paris").with_inputs("question"),
        lmdsl.Example(question="Who created Python?", answer="Guido van Rossum").with_inputs("question"),
        lmdsl.Example(question="Which river flows through Switzerland?", answer="Rhine").with_inputs("question"),
        lmdsl.Example(question="What is in Germany?", answer="Nothing").with_inputs("question"),
    ]

    def metric(example, prediction, trace=None):
        return prediction.answer == example.answer

    student = TinyRAG(retriever=bm25)  # the retriever passed to Retrieve survives the optimizer's copies
    compiled = BootstrapFewShot(metric, max_bootstrapped_demos=4, max_labeled_demos=0).compile(
        student, trainset=trainset
    )
    assert [p for p, _ in compiled.named_predictors()] == ["answer"]
    demos = compiled.answer.demos
    assert [d.answer for d in demos] == ["Paris", "Guido van Rossum", "Rhine"]  # not the failing fourth
    assert demos[0].context == ["Paris | Paris is the capital and most populous city of France."]
    assert compiled.retrieve.retriever is bm25

    with tracing() as trace:
        pred = compiled(question="Which tower is in Paris?")
    assert pred.answer == "Eiffel Tower"
    assert [type(e.predictor).__name__ for e in trace] == ["Retrieve", "ChainOfThought"]
    prompt = "\n".join(m["content"] for m in lm.requests[-1])
    assert "Paris is the capital and most populous city of France." in prompt  # a demo's retrieved context

    path = compiled.save(tmp_path / "tiny.json")
    loaded = TinyRAG(retriever=bm25).load(path)
    assert [d.to_dict() for d in loaded.answer.demos] == [d.to_dict() for d in demos]
    assert loaded(question="Which tower is in Paris?").answer == "Eiffel Tower"


def test_retrieve_runs_in_threads(bm25):
    retrieve = Retrieve(k=1, retriever=bm25)
    queries = ["capital of France", "capital of Germany", "Dutch programmer", "Rhine"] * 10
    results: dict[int, str] = {}

    def work(i: int) -> None:
        results[i] = retrieve(queries[i]).ids[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(queries))] == ["paris", "berlin", "guido", "rhine"] * 10
