"""DSPy programs written the way DSPy's documentation writes them; the import is the only change.

Each block below is a DSPy tutorial snippet (signatures with inheritance, a RAG module,
two-argument metrics, a teacher program, n completions, save/load, usage, History). The LM
is lmdsl's ScriptedLM, which DSPy does not have: the stand-in for a hosted model.
"""

from __future__ import annotations

import pytest

import lmdsl as dspy  # the one change: `import dspy` (README, "Coming from DSPy")
from lmdsl.lm.request import current_call
from lmdsl.testing import ScriptedLM

CORPUS = [
    {"title": "Paris", "text": "Paris is the capital and largest city of France."},
    {"title": "Rome", "text": "Rome is the capital city of Italy."},
    {"title": "Seine", "text": "The Seine flows through Paris."},
    {"title": "Tiber", "text": "The Tiber flows through Rome."},
]
CAPITALS = {"France": "Paris", "Italy": "Rome", "Spain": "Madrid", "Japan": "Tokyo", "Peru": "Lima"}


def capital_lm() -> ScriptedLM:
    """Answers 'What is the capital of X?' correctly, whatever the signature's other outputs are."""

    def answer(inputs):
        country = inputs["question"].rstrip("?").split()[-1]
        values = {"reasoning": f"The capital of {country} is well known.", "answer": CAPITALS.get(country, "?"),
                  "confidence": 0.9, "search_query": country}
        wanted = current_call.get().signature.outputs  # only the fields this call asks for
        return {k: v for k, v in values.items() if k in wanted}

    return ScriptedLM(answer)


# ---- signatures: class-based, inherited, inline ---------------------------------------------
class BasicQA(dspy.Signature):
    """Answer questions with short factoid answers."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="often between 1 and 5 words")


class QAWithConfidence(BasicQA):
    confidence: float = dspy.OutputField(description="between 0 and 1")


class GenerateAnswer(dspy.Signature):
    """Answer questions with short factoid answers."""

    context = dspy.InputField(desc="may contain relevant facts")
    question = dspy.InputField()
    answer = dspy.OutputField(desc="often between 1 and 5 words")


def test_signatures_as_dspy_declares_them():
    dspy.configure(lm=capital_lm())
    pred = dspy.Predict(QAWithConfidence)(question="What is the capital of France?")
    assert (pred.answer, pred.confidence) == ("Paris", 0.9)
    assert list(QAWithConfidence.input_fields) == ["question"]
    assert list(QAWithConfidence.output_fields) == ["answer", "confidence"]
    inline = dspy.Signature("question -> answer", "Answer questions with short factoid answers.")
    assert dspy.ChainOfThought(inline)(question="What is the capital of Italy?").answer == "Rome"
    extended = inline.append("search_query", dspy.OutputField(desc="a query"), type_=str)
    assert dspy.Predict(extended)(question="What is the capital of Peru?").search_query == "Peru"


# ---- a RAG module, DSPy's intro tutorial ------------------------------------------------------
class RAG(dspy.Module):
    def __init__(self, num_passages=3):
        super().__init__()
        self.retrieve = dspy.Retrieve(k=num_passages)
        self.generate_answer = dspy.ChainOfThought(GenerateAnswer)

    def forward(self, question):
        context = self.retrieve(question).passages
        prediction = self.generate_answer(context=context, question=question)
        return dspy.Prediction(context=context, answer=prediction.answer)


def validate_context_and_answer(example, pred, trace=None):
    answer_em = dspy.evaluate.answer_exact_match(example, pred)
    answer_pm = any(example.answer.lower() in c.lower() for c in pred.context)
    return answer_em and answer_pm


def exact(example, pred):  # DSPy's docs write most metrics with two arguments
    return example.answer.lower() == pred.answer.lower()


@pytest.fixture
def rag_setup():
    from lmdsl.retrievers import BM25Retriever

    dspy.configure(lm=capital_lm(), rm=BM25Retriever(CORPUS), display_progress=False)
    trainset = [dspy.Example(question=f"What is the capital of {c}?", answer=a).with_inputs("question")
                for c, a in [("France", "Paris"), ("Italy", "Rome")]]
    devset = [dspy.Example(question=f"What is the capital of {c}?", answer=a).with_inputs("question")
              for c, a in [("France", "Paris"), ("Italy", "Rome"), ("Spain", "Barcelona")]]
    return trainset, devset


def test_rag_compiles_with_bootstrap_and_a_teacher(rag_setup):
    trainset, _ = rag_setup
    teleprompter = dspy.BootstrapFewShot(metric=validate_context_and_answer, max_bootstrapped_demos=2)
    teleprompter.verbose = False
    compiled_rag = teleprompter.compile(RAG(), teacher=RAG(), trainset=trainset)
    demos = compiled_rag.generate_answer.demos
    assert [d.answer for d in demos] == ["Paris", "Rome"] and all(d.reasoning for d in demos)
    assert compiled_rag(question="What is the capital of Italy?").answer == "Rome"


def test_evaluate_with_a_two_argument_metric(rag_setup):
    _, devset = rag_setup
    evaluate = dspy.Evaluate(devset=devset, metric=exact, num_threads=2, display_progress=False)
    result = evaluate(RAG())
    assert result.score == pytest.approx(66.67)  # Madrid is not Barcelona
    assert [bool(r.score) for r in result.results] == [True, True, False]


def test_n_completions_by_field():
    dspy.configure(lm=ScriptedLM([{"reasoning": "r", "answer": a} for a in ("Paris", "Paris", "Lyon")]))
    pred = dspy.ChainOfThought("question -> answer", n=3)(question="Capital of France?")
    assert pred.completions.answer == ["Paris", "Paris", "Lyon"]
    assert dspy.majority(pred).answer == "Paris"


def test_save_load_and_state(rag_setup, tmp_path):
    trainset, _ = rag_setup
    compiled = dspy.LabeledFewShot(k=2).compile(RAG(), trainset=trainset)
    compiled.save(tmp_path / "rag.json")
    loaded = RAG()
    loaded.load(tmp_path / "rag.json")
    assert [d.answer for d in loaded.generate_answer.demos] == [d.answer for d in compiled.generate_answer.demos]
    state = compiled.dump_state()
    assert RAG().load_state(state).dump_state() == state


def test_track_usage_per_model():
    dspy.configure(lm=capital_lm(), track_usage=True)
    pred = dspy.ChainOfThought(BasicQA)(question="What is the capital of Japan?")
    usage = pred.get_lm_usage()
    assert list(usage) == ["scripted/lm"] and usage["scripted/lm"]["total_tokens"] > 0


def test_context_and_inspect_history(capsys):
    dspy.configure(lm=ScriptedLM([]))
    with dspy.context(lm=capital_lm()):
        assert dspy.Predict(BasicQA)(question="What is the capital of Peru?").answer == "Lima"
    dspy.inspect_history(n=1)
    assert "Lima" in capsys.readouterr().out


# ---- History: DSPy's multi-turn tutorial -----------------------------------------------------
class QA(dspy.Signature):
    question: str = dspy.InputField()
    history: dspy.History = dspy.InputField()
    answer: str = dspy.OutputField()


def test_history_conversation():
    lm = ScriptedLM([{"answer": "Paris"}, {"answer": "About two million people."}])
    dspy.configure(lm=lm)
    predict = dspy.Predict(QA)
    history = dspy.History(messages=[])
    question = "What is the capital of France?"
    outputs = predict(question=question, history=history)
    history.messages.append({"question": question, **outputs})
    outputs = predict(question="How many people live there?", history=history)
    assert outputs.answer == "About two million people."
    contents = [m["content"] for m in lm.requests[1][1:]]
    assert contents == ["Question: What is the capital of France?", "Answer: Paris",
                        "Question: How many people live there?"]
