"""Native async: ``await module.acall(...)`` drives ``aforward`` through ``LM.acall``, no thread per call."""

from __future__ import annotations

import asyncio
import threading

import pytest

import lmdsl
from lmdsl import ChainOfThought, Predict, program
from lmdsl.errors import ParseError
from lmdsl.testing import ScriptedLM


class SlowAsyncLM(ScriptedLM):
    """A ScriptedLM whose async path sleeps (as a network call would) and whose sync path is forbidden."""

    def __init__(self, answers, delay: float = 0.05, **kwargs):
        super().__init__(answers, **kwargs)
        self.delay = delay
        self.threads: set[int] = set()
        self.in_flight = 0
        self.peak = 0

    def _complete(self, messages, params):
        raise AssertionError("the sync LM path was used from async code")

    async def _acomplete(self, messages, params):
        self.threads.add(threading.get_ident())
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            return ScriptedLM._complete(self, messages, params)
        finally:
            self.in_flight -= 1


def test_predict_acall_awaits_the_lm():
    lm = SlowAsyncLM([{"answer": "Paris"}])
    lmdsl.configure(lm=lm)
    pred = asyncio.run(Predict("question -> answer").acall(question="Capital of France?"))
    assert pred.answer == "Paris"
    assert lm.threads == {threading.get_ident()}  # ran on the event loop's thread


def test_many_concurrent_calls_share_one_thread():
    lm = SlowAsyncLM(lambda inputs: {"reasoning": "r", "answer": inputs["question"].upper()}, delay=0.05)
    lmdsl.configure(lm=lm)
    cot = ChainOfThought("question -> answer")

    async def main():
        before = threading.active_count()
        results = await asyncio.gather(*(cot.acall(question=f"q{i}") for i in range(40)))
        return results, threading.active_count() - before

    results, extra_threads = asyncio.run(main())
    assert [r.answer for r in results] == [f"Q{i}" for i in range(40)]
    assert lm.peak == 40 and extra_threads == 0
    assert len(lm.threads) == 1


def test_async_reasks_with_the_parse_error_like_sync():
    lm = SlowAsyncLM(["Answer: many", {"answer": 3}], delay=0)
    lmdsl.configure(lm=lm)
    pred = asyncio.run(Predict("question -> answer: int").acall(question="How many?"))
    assert pred.answer == 3
    assert len(lm.requests) == 2  # one call each, no replayed call reached the LM twice
    assert "could not read your reply" in lm.requests[1][-1]["content"]


def test_async_parse_failure_raises_the_same_error():
    lmdsl.configure(lm=SlowAsyncLM(["no number"] * 3, delay=0), max_reasks=2)
    with pytest.raises(ParseError, match="after 3 attempt"):
        asyncio.run(Predict("question -> answer: int").acall(question="?"))


def test_async_results_are_traced_and_cached():
    lm = SlowAsyncLM([{"answer": "a"}], delay=0, cache=True)
    lmdsl.configure(lm=lm)
    predict = Predict("question -> answer")
    with lmdsl.tracing() as trace:
        asyncio.run(predict.acall(question="q"))
    assert [(e.predictor, e.inputs) for e in trace] == [(predict, {"question": "q"})]
    # the same request again is answered by the cache: the scripted list is exhausted
    assert asyncio.run(predict.acall(question="q")).answer == "a"


@program
class AsyncPipeline:
    """A user program written the DSPy way: ``async def aforward`` awaiting its predictors."""

    def __init__(self):
        self.query = Predict("question -> query")
        self.answer = ChainOfThought("question, query -> answer")

    async def aforward(self, question: str):
        query = (await self.query.acall(question=question)).query
        return await self.answer.acall(question=question, query=query)


def test_user_program_with_async_aforward():
    lm = SlowAsyncLM([{"query": "france capital"}, {"reasoning": "known", "answer": "Paris"}], delay=0)
    lmdsl.configure(lm=lm)
    assert asyncio.run(AsyncPipeline().acall(question="Capital of France?")).answer == "Paris"
    assert "Query: france capital" in lm.requests[1][-1]["content"]


def test_async_only_program_still_runs_from_sync_code(scripted):
    scripted([{"query": "q"}, {"reasoning": "r", "answer": "A"}])
    assert AsyncPipeline()(question="?").answer == "A"


def test_async_only_program_called_sync_inside_a_loop_explains(scripted):
    async def main():
        AsyncPipeline()(question="?")

    with pytest.raises(RuntimeError, match=r"await program.acall"):
        asyncio.run(main())


def test_sync_only_program_runs_in_a_worker_thread(scripted):
    scripted([{"answer": "x"}])

    @program
    class Sync:
        def __init__(self):
            self.p = Predict("q -> answer")

        def forward(self, q):
            return self.p(q=q)

    assert asyncio.run(Sync().acall(q="?")).answer == "x"


def test_settings_context_reaches_async_calls():
    inner = SlowAsyncLM([{"answer": "scoped"}], delay=0)
    lmdsl.configure(lm=SlowAsyncLM([], delay=0))

    async def main():
        with lmdsl.context(lm=inner):
            return await Predict("q -> answer").acall(q="?")

    assert asyncio.run(main()).answer == "scoped"
