"""examples/multihop.py: two hops of query generation and retrieval, metrics, and compiling it
so that the query generators learn from runs whose final answer was right (no query labels)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hotpot_world import QUESTION, WORKS, WorldLM, example

import lmdsl
from lmdsl.cli.main import cli
from lmdsl.evaluate import Evaluate
from lmdsl.optimizers.bootstrap import BootstrapFewShot
from lmdsl.program import tracing

TRAIN = ["Velmora", "The Glass Orchard", "Saltwind", "Copper Sky"]
DEV = ["Night Ferry", "Amber Vale", "Iron Lantern", "Winter Harbour"]
EASY = {"Velmora", "Saltwind", "Amber Vale"}  # the zero-shot model writes a good 2nd query only for these


@pytest.fixture
def world(world_retriever):
    lm = WorldLM(easy=EASY)
    lmdsl.configure(lm=lm, retriever=world_retriever)
    return lm


# ---- metrics on known cases -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "predicted", "em", "f1"),
    [
        ("Tulsa", "Tulsa", True, 1.0),
        ("Tulsa", "tulsa.", True, 1.0),  # case and punctuation
        ("The Beatles", "Beatles", True, 1.0),  # articles
        ("Tulsa, Oklahoma", "Tulsa", False, pytest.approx(2 / 3)),
        ("Otto Robert Frisch", "Otto Frisch", False, pytest.approx(0.8)),
        ("yes", "no", False, 0.0),
        ("yes", "yes", True, 1.0),
        ("no", "no answer", False, 0.0),  # yes/no only score when exact
        ("Tulsa", "Paris", False, 0.0),
        (["Tulsa", "Tulsa, Oklahoma"], "Tulsa Oklahoma", True, 1.0),  # several golds: the best one
    ],
)
def test_answer_metrics(multihop, gold, predicted, em, f1):
    ex = lmdsl.Example(question="q", answer=gold, supporting_titles=[]).with_inputs("question")
    pred = lmdsl.Prediction(answer=predicted)
    assert multihop.answer_exact_match(ex, pred) is em
    assert multihop.answer_f1(ex, pred) == f1
    assert multihop.metric is multihop.answer_exact_match


@pytest.mark.parametrize(
    ("titles", "recall"),
    [([], 0.0), (["Velmora"], 0.5), (["Other", "Ansel Brackwater", "Velmora"], 1.0), (["velmora"], 0.0)],
)
def test_gold_title_recall(multihop, titles, recall):
    pred = lmdsl.Prediction(titles=titles, answer="x")
    assert multihop.gold_title_recall(example("Velmora"), pred) == recall


def test_data_keeps_only_what_the_program_and_metrics_use(multihop):
    assert (len(multihop.trainset), len(multihop.valset), len(multihop.devset)) == (20, 20, 100)
    for row in multihop.trainset + multihop.devset:
        assert set(row.keys()) == {"question", "answer", "supporting_titles"}
        assert set(row.inputs().keys()) == {"question"}
        assert len(row.supporting_titles) == 2
    assert not {r.question for r in multihop.trainset} & {r.question for r in multihop.devset}


# ---- the program ------------------------------------------------------------------------------


def test_predictors_are_one_query_generator_per_hop_and_the_answerer(multihop):
    assert [p for p, _ in multihop.MultiHop().named_predictors()] == [
        "generate_query[0]",
        "generate_query[1]",
        "generate_answer",
    ]
    assert len(multihop.MultiHop(max_hops=3).named_predictors()) == 4
    assert "query" in multihop.MultiHop().generate_query[0].signature.outputs


def test_good_second_query_finds_the_bridge_passage(multihop, world):
    program = multihop.MultiHop(passages_per_hop=1)
    with tracing() as trace:
        pred = program(question=QUESTION.format(work="Velmora"))
    assert pred.queries == ["Velmora", "Ansel Brackwater"]
    assert pred.titles == ["Velmora", "Ansel Brackwater"]
    assert pred.context[1] == "Ansel Brackwater | Ansel Brackwater was born in Quenford and lived there as a child."
    assert pred.answer == "Quenford"
    assert multihop.gold_title_recall(example("Velmora"), pred) == 1.0
    kinds = [type(e.predictor).__name__ for e in trace]
    assert kinds == ["ChainOfThought", "Retrieve", "ChainOfThought", "Retrieve", "ChainOfThought"]
    assert trace[0].inputs["context"] == []  # the first hop starts from nothing
    assert trace[2].inputs["context"] == ["Velmora | The opera Velmora was written by Ansel Brackwater."]


def test_context_is_accumulated_without_duplicates(multihop, world):
    pred = multihop.MultiHop(passages_per_hop=1)(question=QUESTION.format(work="Copper Sky"))
    assert pred.queries == ["Copper Sky", "who wrote Copper Sky"]  # a vague second query
    assert pred.titles == ["Copper Sky"]  # found the same passage again: kept once
    assert pred.answer == "unknown"
    assert multihop.gold_title_recall(example("Copper Sky"), pred) == 0.5


def test_passages_per_hop(multihop, world):
    pred = multihop.MultiHop(passages_per_hop=2)(question=QUESTION.format(work="Velmora"))
    assert len(pred.context) == len(set(pred.context)) <= 4
    assert {"Velmora", "Ansel Brackwater"} <= set(pred.titles)


# ---- compiling: query demos from runs whose final answer was right ---------------------------------


def _compile(multihop, **options):
    options = {"max_bootstrapped_demos": 4, "max_labeled_demos": 0, **options}
    trainset = [example(w) for w in TRAIN]
    assert all("query" not in row for row in trainset)  # nobody labels queries
    bootstrap = BootstrapFewShot(multihop.metric, **options)
    return bootstrap, bootstrap.compile(multihop.MultiHop(passages_per_hop=1), trainset=trainset)


def test_bootstrap_keeps_query_demos_only_from_right_answers(multihop, world):
    bootstrap, compiled = _compile(multihop)
    assert bootstrap.stats == {"attempted": 4, "passed": 2, "errors": 0}
    hop1, hop2 = compiled.generate_query[0].demos, compiled.generate_query[1].demos
    # Only Velmora and Saltwind (the easy ones) ended with a right answer.
    assert [d.question for d in hop1] == [QUESTION.format(work=w) for w in ("Velmora", "Saltwind")]
    assert [d.query for d in hop1] == ["Velmora", "Saltwind"]
    assert [d.context for d in hop1] == [[], []]
    assert [d.query for d in hop2] == ["Ansel Brackwater", "Edric Fenwould"]  # good queries, never "... author"
    assert hop2[0].context == ["Velmora | The opera Velmora was written by Ansel Brackwater."]
    assert all(d.reasoning for d in hop1 + hop2)
    assert [d.answer for d in compiled.generate_answer.demos] == ["Quenford", "Darrowby"]


def test_compiled_program_scores_better_on_held_out_questions(multihop, world):
    devset = [example(w) for w in DEV]
    evaluate = Evaluate(devset, multihop.metric, display_progress=False)
    before = evaluate(multihop.MultiHop(passages_per_hop=1))
    _, compiled = _compile(multihop)
    after = evaluate(compiled)
    assert before.score == 25.0  # only "Amber Vale" is easy
    assert after.score == 100.0  # the second hop's demos teach it to look the author up

    recall = Evaluate(devset, multihop.gold_title_recall, display_progress=False)
    assert recall(multihop.MultiHop(passages_per_hop=1)).score == pytest.approx(62.5)
    assert recall(compiled).score == 100.0


def test_compiled_multihop_save_load_round_trip(multihop, world, tmp_path):
    _, compiled = _compile(multihop)
    path = compiled.save(tmp_path / "multihop.json")
    saved = json.loads(path.read_text())
    assert saved["predictors"]["generate_query[1]"]["demos"][0]["query"] == "Ansel Brackwater"
    loaded = multihop.MultiHop(passages_per_hop=1).load(path)
    for (name, original), (_, copy) in zip(compiled.named_predictors(), loaded.named_predictors()):
        assert [d.to_dict() for d in copy.demos] == [d.to_dict() for d in original.demos], name
    assert loaded(question=QUESTION.format(work="Night Ferry")).answer == "Calloway"


def test_cli_compile_bootstraps_query_demos(multihop, world_retriever, tmp_path, monkeypatch):
    """``lmdsl compile file.py:MultiHop`` with the model, retriever, data and metric from the module."""
    wrapper = tmp_path / "world_multihop.py"
    wrapper.write_text(
        "from hotpot_world import WorldLM, example, load_example, CORPUS\n"
        "from lmdsl.retrievers import BM25Retriever\n"
        "_mh = load_example('multihop')\n"
        "MultiHop = _mh.MultiHop\n"
        "metric = _mh.metric\n"
        f"trainset = [example(w) for w in {TRAIN!r}]\n"
        f"valset = [example(w) for w in {DEV!r}]\n"
        f"lm = WorldLM(easy={sorted(EASY)!r})\n"
        "retriever = BM25Retriever(CORPUS)\n"
    )
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "compiled.json"
    result = CliRunner().invoke(
        cli,
        [
            "compile", f"{wrapper}:MultiHop", "--optimizer", "bootstrap",
            "-O", "max_labeled_demos=0", "-o", str(out), "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["baseline_score"], report["score"]) == (25.0, 100.0)
    state = json.loads(out.read_text())
    assert [d["query"] for d in state["predictors"]["generate_query[1]"]["demos"]] == [
        "Ansel Brackwater",
        "Edric Fenwould",
    ]


def test_every_work_has_its_two_passages(world_retriever):
    for work, _, author, _ in WORKS:
        assert world_retriever(work, 1)[0].title == work
        assert world_retriever(author, 1)[0].title == author


# ---- Suggest: short, distinct queries -----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "previous", "distinct"),
    [
        ("Ansel Brackwater", [], True),
        ("Ansel Brackwater", ["Velmora"], True),
        ("Velmora", ["Velmora"], False),
        ("the Velmora.", ["velmora"], False),  # normalised
        ("Velmora opera", ["Velmora"], True),  # F1 2/3
        ("Velmora opera composer", ["Velmora opera"], False),  # F1 0.8: nearly the same
        ("Saltwind", ["Velmora", "Saltwind poem"], True),
    ],
)
def test_is_distinct(multihop, query, previous, distinct):
    assert multihop.is_distinct(query, previous) is distinct


def test_repeated_query_is_retried_with_feedback(multihop, world_retriever, caplog):
    lm = WorldLM(repeat=True, listens=True)
    lmdsl.configure(lm=lm, retriever=world_retriever)
    pred = multihop.MultiHop(passages_per_hop=1)(question=QUESTION.format(work="Copper Sky"))
    assert pred.queries == ["Copper Sky", "Lisbet Orrin"]
    assert pred.answer == "Wexham"
    assert lm.feedback == ["Query should be distinct from: 1) Copper Sky"]
    retry = "\n".join(m["content"] for m in lm.requests[-2])  # the second hop, asked again
    assert "Copper Sky" in retry and "distinct" in retry
    assert "failed" not in caplog.text


def test_long_query_is_retried_with_feedback(multihop, world_retriever):
    lm = WorldLM(easy={"Saltwind"}, long_first=True, listens=True)
    lmdsl.configure(lm=lm, retriever=world_retriever)
    pred = multihop.MultiHop(passages_per_hop=1)(question=QUESTION.format(work="Saltwind"))
    assert pred.queries == ["Saltwind", "Edric Fenwould"]
    assert pred.answer == "Darrowby"
    assert lm.feedback == ["Query should be short and less than 100 characters"]


def test_suggestions_give_up_after_max_backtracks_without_raising(multihop, world_retriever, caplog):
    lm = WorldLM(repeat=True)  # ignores feedback
    lmdsl.configure(lm=lm, retriever=world_retriever, max_backtracks=2)
    pred = multihop.MultiHop(passages_per_hop=1)(question=QUESTION.format(work="Copper Sky"))
    assert pred.queries == ["Copper Sky", "Copper Sky"]
    assert pred.answer == "unknown"
    assert len(lm.feedback) == 2
    assert "Suggest failed after 3 attempt(s)" in caplog.text


def test_suggestions_can_be_turned_off(multihop, world_retriever):
    lm = WorldLM(repeat=True, listens=True)
    lmdsl.configure(lm=lm, retriever=world_retriever)
    with lmdsl.context(assertions="off"):
        pred = multihop.MultiHop(passages_per_hop=1)(question=QUESTION.format(work="Copper Sky"))
    assert pred.queries == ["Copper Sky", "Copper Sky"]
    assert lm.feedback == []


def test_a_query_corrected_by_a_suggestion_becomes_a_clean_demo(multihop, world_retriever):
    lm = WorldLM(repeat=True, listens=True)
    lmdsl.configure(lm=lm, retriever=world_retriever)
    compiled = BootstrapFewShot(multihop.metric, max_labeled_demos=0).compile(
        multihop.MultiHop(passages_per_hop=1), trainset=[example("Copper Sky")]
    )
    (demo,) = compiled.generate_query[1].demos
    assert demo.query == "Lisbet Orrin"
    assert set(demo.inputs().keys()) == {"context", "question"}  # no feedback / past_query fields
