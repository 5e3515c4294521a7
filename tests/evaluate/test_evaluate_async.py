"""Evaluate on async programs: rows as asyncio tasks, at most max_concurrency at once, same results as threads."""

from __future__ import annotations

import asyncio
import threading

import pytest

import lmdsl
from lmdsl import Example, Predict
from lmdsl.errors import ErrorBudgetExceeded
from lmdsl.evaluate import Evaluate, MetricError
from lmdsl.testing import ScriptedLM


class GaugedLM(ScriptedLM):
    """Async path sleeps and counts calls in flight; the sync path is forbidden."""

    def __init__(self, answers, **kwargs):
        super().__init__(answers, **kwargs)
        self.in_flight = self.peak = 0

    def _complete(self, messages, params):
        raise AssertionError("sync LM path used")

    async def _acomplete(self, messages, params):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            return ScriptedLM._complete(self, messages, params)
        finally:
            self.in_flight -= 1


def devset(n):
    return [Example(question=f"q{i}", answer="yes" if i % 2 == 0 else "no").with_inputs("question")
            for i in range(n)]


def answer_even(inputs):
    return {"answer": "yes" if int(inputs["question"][1:]) % 2 == 0 else "maybe"}


def test_async_rows_respect_the_concurrency_limit_and_score_like_threads():
    lm = GaugedLM(answer_even)
    lmdsl.configure(lm=lm, display_progress=False)
    evaluate = Evaluate(devset(20), lambda ex, pred: ex.answer == pred.answer)
    before = threading.active_count()
    result = evaluate(Predict("question -> answer"), max_concurrency=5)
    assert threading.active_count() == before
    assert result.score == 50.0 and [r.example.question for r in result.results] == [f"q{i}" for i in range(20)]
    assert lm.peak == 5
    assert all(r.calls == 1 for r in result.results) and result.usage["calls"] == 20


def test_await_acall_inside_a_running_loop():
    lmdsl.configure(lm=GaugedLM(answer_even), display_progress=False)
    evaluate = Evaluate(devset(6), lambda ex, pred: ex.answer == pred.answer)

    async def main():
        return await evaluate.acall(Predict("question -> answer"), max_concurrency=3)

    assert asyncio.run(main()).score == 50.0

    async def wrong():
        return evaluate(Predict("question -> answer"), max_concurrency=3)

    with pytest.raises(RuntimeError, match=r"await evaluate\.acall"):
        asyncio.run(wrong())


def test_a_plain_async_function_is_a_program():
    lmdsl.configure(display_progress=False)

    async def program(question):
        await asyncio.sleep(0)
        return lmdsl.Prediction(answer="yes")

    assert Evaluate(devset(4), lambda ex, pred: ex.answer == pred.answer)(program).score == 50.0


def test_errors_and_budget_in_async_mode():
    lmdsl.configure(display_progress=False)

    async def program(question):
        raise ValueError(f"bad {question}")

    result = Evaluate(devset(3), lambda ex, pred: 1.0, max_errors=5)(program)
    assert result.errors == 3 and result.score == 0.0 and "ValueError: bad q0" in result.results[0].error
    with pytest.raises(ErrorBudgetExceeded, match="max_errors=1"):
        Evaluate(devset(10), lambda ex, pred: 1.0, max_errors=1)(program, max_concurrency=2)


def test_a_raising_metric_stops_async_evaluation():
    lmdsl.configure(display_progress=False)

    async def program(question):
        return lmdsl.Prediction(answer="yes")

    def metric(example, pred):
        raise KeyError("oops")

    with pytest.raises(MetricError, match="KeyError"):
        Evaluate(devset(8), metric)(program, max_concurrency=2)
