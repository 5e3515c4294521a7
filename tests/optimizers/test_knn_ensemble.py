"""KNNFewShot shows each input its BM25 nearest training rows; Ensemble + majority vote."""

from __future__ import annotations

import pytest
from tp_programs import PromptLM, QAProgram, TwoStep, demo_inputs

import lmdsl
from lmdsl import Example, Predict, Prediction
from lmdsl.evaluate import Evaluate, exact_match
from lmdsl.optimizers import Ensemble, KNNFewShot
from lmdsl.predict.aggregation import majority
from lmdsl.testing import ScriptedLM

TOPICS = [
    ("the cat sat on the mat", "animal"),
    ("a dog chased the cat", "animal"),
    ("stocks fell on wall street", "finance"),
    ("the bank raised interest rates", "finance"),
    ("the team won the football match", "sport"),
    ("a striker scored a late goal", "sport"),
]
TRAIN = [Example(question=q, answer=a).with_inputs("question") for q, a in TOPICS]


@pytest.fixture(autouse=True)
def _no_progress():
    lmdsl.configure(display_progress=False)


def by_topic(inputs):
    q = inputs["question"]
    for words, topic in (("cat dog", "animal"), ("bank stocks rates", "finance"), ("goal match striker", "sport")):
        if any(w in q.split() for w in words.split()):
            return {"answer": topic}
    return {"answer": "unknown"}


def test_the_demos_shown_are_the_inputs_nearest_neighbours(scripted):
    lm = scripted(by_topic)
    knn = KNNFewShot(k=2, trainset=TRAIN)
    compiled = knn.compile(QAProgram())
    assert compiled(question="my cat and my dog").answer == "animal"
    assert sorted(demo_inputs(lm.requests[-1])) == ["Question: a dog chased the cat", "Question: the cat sat on the mat"]
    assert compiled.neighbours(question="my cat and my dog") == [1, 0]  # nearest first
    # only rows sharing a word are neighbours: here one, so one demo
    compiled(question="interest rates at the bank")
    assert demo_inputs(lm.requests[-1]) == ["Question: the bank raised interest rates"]
    assert set(compiled.neighbours(question="a goal in the match")) == {4, 5}
    compiled(question="nothing in common")
    assert demo_inputs(lm.requests[-1]) == []


def test_knn_prints_its_estimate_and_cost(scripted, capsys):
    scripted(by_topic)
    knn = KNNFewShot(k=1, trainset=TRAIN)
    knn.compile(QAProgram())
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == ("[knn] estimated about 0 LM calls (0 program runs x 1 predictor; "
                                   "cached answers cost none)")
    assert "0 LM calls" in err.splitlines()[-1] and knn.report.lm_calls == 0


def test_neighbour_demos_are_per_call_and_never_stored(scripted):
    lm = scripted(by_topic)
    student = QAProgram()
    compiled = KNNFewShot(k=1).compile(student, trainset=TRAIN)
    assert compiled.student.gen.demos == [] and student.gen.demos == []
    devset = [Example(question=q, answer=a).with_inputs("question") for q, a in
              [("stocks and the bank", "finance"), ("cat food", "animal"), ("goal by the striker", "sport")] * 4]
    result = Evaluate(devset, exact_match, num_threads=4)(compiled)
    assert result.score == 100.0
    expected = {"stocks and the bank": "finance", "cat food": "animal", "goal by the striker": "sport"}
    for messages in lm.requests:
        question = messages[-1]["content"].removeprefix("Question: ")
        (reply,) = [m["content"] for m in messages[1:-1] if m["role"] == "assistant"]
        assert reply == f"Answer: {expected[question]}"  # the one demo is from the input's own topic


def test_every_predictor_gets_its_neighbours_bootstrapped_trace():
    def answer(inputs, messages, params):
        return {"query": f"about {inputs['question']}"} if "query" not in inputs else by_topic(inputs)

    lm = PromptLM(answer)
    lmdsl.configure(lm=lm)
    compiled = KNNFewShot(k=1, trainset=TRAIN, metric=exact_match, bootstrap=True).compile(TwoStep())
    lm.calls.clear()
    compiled(question="a cat")
    (write_prompt, _), (answer_prompt, _) = lm.calls
    (nearest,) = compiled.neighbours(question="a cat")
    q = TRAIN[nearest].question
    assert "cat" in q
    # the query writer has no labels: its demo is the neighbour's traced query
    assert demo_inputs(write_prompt) == [f"Question: {q}"]
    assert write_prompt[2]["content"] == f"Query: about {q}"
    assert demo_inputs(answer_prompt) == [f"Question: {q}\n\nQuery: about {q}"]


def test_bootstrapped_neighbours_use_passing_traces():
    def answer(inputs, messages, params):
        # right on the animal rows only
        return by_topic(inputs) if "cat" in inputs["question"] else {"answer": "unknown"}

    lm = PromptLM(answer)
    lmdsl.configure(lm=lm)
    knn = KNNFewShot(k=2, trainset=TRAIN, metric=exact_match, bootstrap=True)
    compiled = knn.compile(QAProgram())
    assert len(lm.calls) == len(TRAIN)  # one teacher run per training row, at compile time
    sets = compiled._demo_sets
    assert [d.to_dict() for d in sets[0]["gen"]] == [{"question": "the cat sat on the mat", "answer": "animal",
                                                     "augmented": True}]
    assert sets[2]["gen"] == [TRAIN[2]]  # a failed trace falls back to the labeled row
    assert knn.report.lm_calls == len(TRAIN) and knn.report.estimated_calls == len(TRAIN)
    with pytest.raises(ValueError, match=r"bootstrap=True.*needs a metric"):
        KNNFewShot(k=1, trainset=TRAIN, bootstrap=True).compile(QAProgram())


# ---- Ensemble and majority ---------------------------------------------------------------
def fixed(answer: str) -> QAProgram:
    p = QAProgram()
    p.set_lm(ScriptedLM(lambda inputs: {"answer": answer}))
    return p


def test_ensemble_majority_vote():
    ensemble = Ensemble([fixed("Paris"), fixed("Lyon"), fixed("paris.")]).compile()
    result = ensemble(question="capital?")
    assert result.answer == "Paris"  # "Paris" and "paris." are one vote after normalisation
    assert [c["answer"] for c in result.completions] == ["Paris", "Lyon", "paris."]


def test_ensemble_ties_go_to_the_earliest_program():
    assert Ensemble([fixed("Lyon"), fixed("Paris")]).compile()(question="?").answer == "Lyon"
    assert Ensemble([fixed("Paris"), fixed("Lyon")]).compile()(question="?").answer == "Paris"
    assert Ensemble([fixed("A"), fixed("B"), fixed("B"), fixed("A")]).compile()(question="?").answer == "A"


def test_ensemble_copies_its_programs_and_takes_custom_reducers():
    programs = [fixed("x"), fixed("y")]
    ensemble = Ensemble(reduce=list).compile(programs)
    assert all(a is not b for a, b in zip(ensemble.programs, programs))
    assert [p.answer for p in ensemble(question="?")] == ["x", "y"]
    last = Ensemble(programs, reduce=lambda outputs: outputs[-1]).compile()
    assert last(question="?").answer == "y"
    with pytest.raises(ValueError, match=r"^Ensemble: no programs to ensemble$"):
        Ensemble().compile()


def test_ensemble_size_picks_a_seeded_subset():
    programs = [fixed(str(i)) for i in range(6)]
    a = Ensemble(programs, reduce=list, size=2, seed=1).compile()
    b = Ensemble(programs, reduce=list, size=2, seed=1).compile()
    assert [p.answer for p in a(question="?")] == [p.answer for p in b(question="?")]
    assert len(a(question="?")) == 2


def test_majority_over_completions_and_dicts():
    pred = Prediction.from_completions([{"answer": "b"}, {"answer": "a"}, {"answer": "a"}])
    assert majority(pred).answer == "a"
    assert majority([{"answer": "x", "r": 1}, {"answer": "y", "r": 2}]).answer == "x"
    assert majority([{"answer": "X"}, {"answer": "y"}, {"answer": "x "}]).answer == "X"
    assert majority([{"answer": "X"}, {"answer": "x"}, {"answer": "y"}], normalize=None).answer == "X"
    assert majority([{"a": "1", "b": "p"}, {"a": "2", "b": "q"}, {"a": "2", "b": "p"}], field="b").a == "1"
    assert majority([{"answer": 3}, {"answer": 4}, {"answer": 4}]).answer == 4
    with pytest.raises(ValueError, match=r"^majority: nothing to vote over$"):
        majority([])


def test_majority_with_n_samples(scripted):
    scripted([{"answer": "no"}, {"answer": "yes"}, {"answer": "yes"}])
    pred = Predict("question -> answer", n=3)(question="?")
    assert len(pred.completions) == 3
    assert majority(pred).answer == "yes"

