"""aforward of the built-in modules: ReAct (async and sync tools), BestOfN/Refine, MultiChainComparison.

Each runs on an LM whose sync path is forbidden, so a passing test shows the module awaited
``LM.acall`` all the way down; results must equal the sync path's on the same script.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

import lmdsl
from lmdsl import ChainOfThought, Predict
from lmdsl.callbacks import BaseCallback
from lmdsl.predict.multi_chain_comparison import MultiChainComparison
from lmdsl.predict.react import ReAct
from lmdsl.predict.refine import BestOfN, Refine
from lmdsl.predict.tools import Tool
from lmdsl.testing import ScriptedLM


class AsyncOnlyLM(ScriptedLM):
    def _complete(self, messages, params):
        raise AssertionError("sync LM path used from aforward")

    async def _acomplete(self, messages, params):
        await asyncio.sleep(0)
        return ScriptedLM._complete(self, messages, params)


def step(tool, args, thought="next"):
    return {"next_thought": thought, "next_tool_name": tool, "next_tool_args": args}


async def lookup(city: str) -> int:
    """Population of a city, in millions."""
    await asyncio.sleep(0)
    return {"paris": 2, "rome": 3}[city.lower()]


def double(x: int) -> int:
    """Double a number."""
    double.threads.add(threading.get_ident())
    return 2 * x


double.threads = set()


SCRIPT = [
    step("lookup", {"city": "Paris"}),
    step("double", {"x": 2}),
    step("finish", {}),
    {"reasoning": "2 doubled", "answer": 4},
]


def test_react_aforward_awaits_async_tools_and_threads_sync_ones():
    double.threads.clear()
    lm = AsyncOnlyLM(list(SCRIPT))
    lmdsl.configure(lm=lm)
    agent = ReAct("question -> answer: int", tools=[lookup, double])
    pred = asyncio.run(agent.acall(question="Twice the population of Paris?"))
    assert pred.answer == 4
    assert [s["observation"] for s in pred.trajectory] == ["2", "4", "Completed."]
    assert threading.get_ident() not in double.threads  # the sync tool ran off the event loop


def test_react_sync_path_runs_an_async_tool_too(scripted):
    scripted(list(SCRIPT))
    pred = ReAct("question -> answer: int", tools=[lookup, double])(question="?")
    assert [s["observation"] for s in pred.trajectory] == ["2", "4", "Completed."]


def test_tool_errors_are_observations_in_async_too():
    lmdsl.configure(lm=AsyncOnlyLM([step("lookup", {"city": "Oslo"}), step("finish", {}),
                                    {"reasoning": "r", "answer": 0}]))
    pred = asyncio.run(ReAct("question -> answer: int", tools=[lookup]).acall(question="?"))
    assert pred.trajectory[0]["observation"] == "Error: lookup raised KeyError: 'oslo'"


def test_tool_acall_and_tool_callbacks():
    events = []

    class Rec(BaseCallback):
        def on_tool_start(self, call_id, instance, inputs):
            events.append(("start", instance.name, inputs))

        def on_tool_end(self, call_id, outputs, exception=None):
            events.append(("end", outputs))

    lmdsl.configure(callbacks=[Rec()])
    assert asyncio.run(Tool(lookup).acall(city="Rome")) == 3
    assert Tool(double)(x="5") == 10
    assert events == [("start", "lookup", {"city": "Rome"}), ("end", 3),
                      ("start", "double", {"x": 5}), ("end", 10)]


def test_async_tool_called_sync_inside_a_loop_explains():
    async def main():
        Tool(lookup)(city="Paris")

    with pytest.raises(RuntimeError, match="acall"):
        asyncio.run(main())


def short(inputs, pred) -> float:
    return 1.0 if len(pred.answer.split()) <= 2 else 0.0


async def async_short(inputs, pred) -> float:
    return short(inputs, pred)


@pytest.mark.parametrize("reward", [short, async_short], ids=["sync-reward", "async-reward"])
def test_best_of_n_aforward(reward):
    lm = AsyncOnlyLM([{"answer": "a long rambling answer"}, {"answer": "Paris"}, {"answer": "never"}])
    lmdsl.configure(lm=lm)
    best = BestOfN(Predict("question -> answer"), N=3, reward_fn=reward, threshold=1.0)
    assert asyncio.run(best.acall(question="Capital?")).answer == "Paris"
    assert lm.remaining == 1 and lm.history[1]["params"]["rollout_id"] == 1


def test_refine_aforward_asks_for_advice_and_shows_it():
    lm = AsyncOnlyLM([
        {"answer": "a long rambling answer"},
        {"discussion": "too long", "advice": "Answer in one word."},
        {"answer": "Paris"},
    ])
    lmdsl.configure(lm=lm)
    refine = Refine(Predict("question -> answer"), N=2, reward_fn=short, threshold=1.0)
    assert asyncio.run(refine.acall(question="Capital?")).answer == "Paris"
    assert "Hint: Answer in one word." in lm.requests[2][-1]["content"]


def test_multi_chain_comparison_aforward():
    lm = AsyncOnlyLM([
        {"reasoning": "r1", "answer": "4"}, {"reasoning": "r2", "answer": "5"},
        {"rationale": "4 is right", "answer": "4"},
    ])
    lmdsl.configure(lm=lm)

    async def main():
        attempts = await ChainOfThought("question -> answer", n=2).acall(question="2+2?")
        return await MultiChainComparison("question -> answer", M=2).acall(attempts, question="2+2?")

    assert asyncio.run(main()).answer == "4"
    assert "Reasoning Attempt 2: «r2 My answer: 5»" in lm.requests[-1][-1]["content"]


class AsyncIndex:
    """A remote-style retriever: ``acall`` is awaited; calling it synchronously is an error."""

    def __init__(self):
        self.queries = []

    def __call__(self, query, k):
        raise AssertionError("sync retrieval used from aforward")

    async def acall(self, query, k):
        from lmdsl.retrievers import Passage

        self.queries.append(query)
        await asyncio.sleep(0)
        return [Passage(text=f"{query} {i}", title=f"{query}-{i}", id=f"{query}-{i}", score=1.0 / (i + 1))
                for i in range(k)]


def test_retrieve_aforward_awaits_an_async_retriever():
    from lmdsl.predict.retrieve import Retrieve

    index = AsyncIndex()
    retrieve = Retrieve(k=2, retriever=index)
    with lmdsl.tracing() as trace:
        one = asyncio.run(retrieve.acall("paris"))
        fused = asyncio.run(retrieve.acall(["paris", "rome"]))
    assert one.titles == ["paris-0", "paris-1"] and index.queries == ["paris", "paris", "rome"]
    assert fused.titles[:2] == ["paris-0", "rome-0"]  # reciprocal rank fusion, as forward does
    assert [e.inputs["query"] for e in trace] == ["paris", ["paris", "rome"]]


def test_retrieve_aforward_runs_an_in_process_retriever_inline():
    from lmdsl.predict.retrieve import Retrieve
    from lmdsl.retrievers import BM25Retriever

    corpus = [{"title": "Paris", "text": "Paris is in France."}, {"title": "Rome", "text": "Rome is in Italy."}]
    retrieve = Retrieve(k=1, retriever=BM25Retriever(corpus))
    assert asyncio.run(retrieve.acall("Italy")).titles == ["Rome"]
