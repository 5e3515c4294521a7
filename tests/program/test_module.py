"""Module and @program: calling runs forward, predictors are found in attributes/lists/dicts, copies."""

from __future__ import annotations

import asyncio
import copy

import pytest

import lmdsl
from lmdsl import ChainOfThought, Example, Module, Predict, Prediction, program
from lmdsl.testing import ScriptedLM


@program
class RAG:
    """Retrieve then answer."""

    def __init__(self, k: int = 3):
        self.k = k
        self.generate = ChainOfThought("context: list[str], question -> answer")

    def forward(self, question: str):
        context = [f"passage {i}" for i in range(self.k)]
        return self.generate(context=context, question=question)


class Pipeline(Module):
    def __init__(self):
        self.first = Predict("question -> query")
        self.hops = [Predict("query -> passage"), Predict("passage -> query")]
        self.by_name = {"summarise": Predict("passage -> summary"), "skip": 3}
        self.inner = RAG()
        self.shared = self.first  # the same predictor twice is listed once
        self._private = Predict("a -> b")
        self.config_value = "not a module"

    def forward(self, question):
        return self.first(question=question)


def test_program_makes_a_module_and_calling_runs_forward(scripted):
    lm = scripted([{"reasoning": "r", "answer": "Paris"}])
    rag = RAG(k=2)
    assert isinstance(rag, Module) and isinstance(rag, RAG)
    assert RAG.__name__ == "RAG" and RAG.__doc__ == "Retrieve then answer."
    pred = rag(question="Capital of France?")
    assert pred.answer == "Paris"
    assert "[1] passage 0\n[2] passage 1" in lm.history[-1]["messages"][-1]["content"]


def test_program_requires_forward():
    with pytest.raises(TypeError, match=r"^@program Nope: the class needs a forward\(\) or an async aforward\(\) method$"):

        @program
        class Nope:
            pass

    with pytest.raises(TypeError, match=r"^@program decorates a class$"):
        program(lambda: None)


def test_program_on_a_module_subclass_is_a_no_op():
    assert program(Pipeline) is Pipeline


def test_module_without_forward():
    with pytest.raises(NotImplementedError, match=r"^Module must define forward\(\) or async aforward\(\)$"):
        Module()()


def test_named_predictors_walks_attributes_lists_and_dicts():
    p = Pipeline()
    names = [n for n, _ in p.named_predictors()]
    assert names == ["first", "hops[0]", "hops[1]", "by_name['summarise']", "inner.generate"]
    assert p.predictors() == [pred for _, pred in p.named_predictors()]
    assert dict(p.named_predictors())["inner.generate"] is p.inner.generate


def test_named_modules():
    p = Pipeline()
    assert [n for n, _ in p.named_modules()] == [
        "first", "hops[0]", "hops[1]", "by_name['summarise']", "inner", "inner.generate"
    ]


def test_repr_lists_predictors():
    assert repr(RAG()) == "RAG(generate=ChainOfThought)"


def test_deepcopy_copies_predictors_and_demos_but_shares_the_lm():
    lm = ScriptedLM([])
    p = Pipeline()
    p.first.lm = lm
    p.first.demos = [Example(question="q", query="x").with_inputs("question")]
    clone = p.deepcopy()
    assert clone.first is not p.first
    assert clone.first.lm is lm  # the model (and its cache/history) is shared
    assert clone.first.signature is p.first.signature  # immutable: shared
    assert clone.first.demos == p.first.demos and clone.first.demos is not p.first.demos
    assert clone.first.demos[0].input_keys == frozenset({"question"})
    clone.first.demos.append(Example(question="q2", query="y"))
    assert len(p.first.demos) == 1
    assert clone.shared is clone.first  # aliasing preserved
    assert copy.deepcopy(p).first.lm is lm


def test_reset_copy_clears_demos_only_in_the_copy():
    p = Pipeline()
    for pred in p.predictors():
        pred.demos = [Example(a=1)]
    fresh = p.reset_copy()
    assert all(pred.demos == [] for pred in fresh.predictors())
    assert all(len(pred.demos) == 1 for pred in p.predictors())


def test_set_lm():
    lm = ScriptedLM([])
    p = Pipeline()
    p.set_lm(lm)
    assert all(pred.lm is lm for pred in p.predictors())


def test_examples_and_predictions_copy():
    e = Example(question="q", answer=["a"]).with_inputs("question")
    e2 = copy.deepcopy(e)
    assert e2 == e and e2.answer is not e.answer and e2.inputs() == Example(question="q")
    pred = Prediction.from_completions([{"answer": "x"}, {"answer": "y"}], {"prompt_tokens": 3})
    pred2 = copy.deepcopy(pred)
    assert pred2.completions == pred.completions and pred2.usage == {"prompt_tokens": 3}
    assert copy.copy(e) == e


def test_forward_can_return_a_user_built_prediction(scripted):
    scripted([{"query": "capital france"}])

    @program
    class Wrap:
        def __init__(self):
            self.step = Predict("question -> query")

        def forward(self, question):
            q = self.step(question=question).query
            return Prediction(query=q, answer="Paris")

    out = Wrap()(question="?")
    assert (out.query, out.answer) == ("capital france", "Paris")


def test_program_trace_records_every_predictor_call(scripted):
    scripted([{"query": "q1"}, {"passage": "p1"}, {"query": "q2"}])

    @program
    class Hops:
        def __init__(self):
            self.start = Predict("question -> query")
            self.hops = [Predict("query -> passage"), Predict("passage -> query")]

        def forward(self, question):
            query = self.start(question=question).query
            passage = self.hops[0](query=query).passage
            return self.hops[1](passage=passage)

    h = Hops()
    with lmdsl.tracing() as trace:
        h(question="?")
    assert [e.predictor for e in trace] == [h.start, h.hops[0], h.hops[1]]
    assert [e.inputs for e in trace] == [{"question": "?"}, {"query": "q1"}, {"passage": "p1"}]
    assert trace[-1].outputs.query == "q2"


def test_acall_runs_forward_off_the_event_loop(scripted):
    scripted([{"reasoning": "r", "answer": "Paris"}])
    assert asyncio.run(RAG().acall(question="?")).answer == "Paris"


def test_acall_prefers_aforward():
    @program
    class Async:
        def forward(self):
            raise AssertionError("sync path used")

        async def aforward(self, x):
            return x * 2

    assert asyncio.run(Async().acall(21)) == 42
