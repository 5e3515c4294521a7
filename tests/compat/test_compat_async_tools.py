"""DSPy's async, streaming, tools, Refine and callbacks snippets, with the import changed (and, for
streaming and callbacks, the names the README's "Coming from DSPy" table gives).

The LM is a real ``dspy.LM`` talking to a loopback OpenAI-style server (lmdsl.testing_server),
so async calls and streams go through litellm as they would against a hosted API.
"""

from __future__ import annotations

import asyncio

import pytest

import lmdsl as dspy  # the one change: `import dspy`
from lmdsl.callbacks import BaseCallback  # DSPy: from dspy.utils.callback import BaseCallback
from lmdsl.testing import ScriptedLM
from lmdsl.testing_server import serve


@pytest.fixture(scope="module")
def api_base():
    with serve(delay=0.01) as base:
        yield base


@pytest.fixture
def hosted(api_base):
    # DSPy: dspy.configure(lm=dspy.LM("openai/gpt-4o-mini")); a local stand-in answers here.
    dspy.configure(lm=dspy.LM("openai/stub", api_base=api_base, api_key="x", cache=False))


# ---- async (DSPy docs: "Async DSPy programming") ---------------------------------------------
class MyModule(dspy.Module):
    def __init__(self):
        self.predict1 = dspy.ChainOfThought("question->answer")
        self.predict2 = dspy.ChainOfThought("answer->simplified_answer")

    async def aforward(self, question, **kwargs):
        # Execute predictions sequentially but asynchronously
        answer = await self.predict1.acall(question=question)
        return await self.predict2.acall(answer=answer)


def test_async_module(hosted):
    async def main():
        mod = MyModule()
        return await mod.acall(question="Why did a chicken cross the kitchen?")

    result = asyncio.run(main())
    assert result.simplified_answer.startswith("stub answer")


def test_acall_of_a_builtin_and_asyncify(hosted):
    predict = dspy.Predict("question->answer")

    async def main():
        results = await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(5)))
        wrapped = dspy.asyncify(dspy.ChainOfThought("question -> answer"))
        return results, await wrapped(question="What is 2 + 2?")

    results, single = asyncio.run(main())
    assert len({r.answer for r in results}) == 5 and single.answer.startswith("stub answer")


# ---- streaming (DSPy: dspy.streamify(p, stream_listeners=[StreamListener("answer")])) --------
def test_streaming(hosted):
    predict = dspy.Predict("question->answer")
    stream_predict = dspy.stream(predict, fields=["answer"])  # DSPy: dspy.streamify(...)

    async def read_output_stream():
        chunks, final = [], None
        async for chunk in stream_predict(question="Why did a chicken cross the kitchen?"):
            if isinstance(chunk, dspy.StreamChunk):  # DSPy: dspy.streaming.StreamResponse
                chunks.append(chunk.text)  # DSPy: chunk.chunk
            elif isinstance(chunk, dspy.Prediction):
                final = chunk
        return chunks, final

    chunks, final = asyncio.run(read_output_stream())
    assert len(chunks) > 1 and "".join(chunks) == final.answer


# ---- tools and ReAct ----------------------------------------------------------------------
def evaluate_math(expression: str) -> float:
    """Evaluate a simple arithmetic expression."""
    return float(eval(expression, {"__builtins__": {}}))  # a test tool: fixed, trusted input


def search_wikipedia(query: str) -> list[str]:
    """Search Wikipedia for abstracts."""
    return [f"{query} is a city."]


def test_react_with_tools():
    dspy.configure(lm=ScriptedLM([
        {"next_thought": "compute it", "next_tool_name": "evaluate_math", "next_tool_args": {"expression": "9362158 / 27"}},
        {"next_thought": "done", "next_tool_name": "finish", "next_tool_args": {}},
        {"reasoning": "the tool said so", "answer": 346746.59},
    ]))
    react = dspy.ReAct("question -> answer: float", tools=[evaluate_math, search_wikipedia])
    pred = react(question="What is 9362158 divided by 27?")
    assert pred.answer == pytest.approx(346746.59)
    assert pred.trajectory[0]["observation"].startswith("346746.5")
    tool = dspy.Tool(search_wikipedia)
    assert tool(query="Lima") == ["Lima is a city."] and tool.name == "search_wikipedia"


# ---- Refine / BestOfN ---------------------------------------------------------------------
def one_word_answer(args, pred: dspy.Prediction) -> float:
    return 1.0 if len(pred.answer.split()) == 1 else 0.0


def test_refine():
    dspy.configure(lm=ScriptedLM([
        {"reasoning": "r", "answer": "It is Brussels"},
        {"discussion": "too long", "advice": "Answer with one word."},
        {"reasoning": "r", "answer": "Brussels"},
    ]))
    qa = dspy.ChainOfThought("question -> answer")
    best_of_3 = dspy.Refine(module=qa, N=3, reward_fn=one_word_answer, threshold=1.0)
    assert best_of_3(question="What is the capital of Belgium?").answer == "Brussels"


# ---- callbacks ----------------------------------------------------------------------------
class AgentLoggingCallback(BaseCallback):
    def __init__(self):
        self.lines = []

    def on_module_start(self, call_id, instance, inputs):
        self.lines.append(f"start {type(instance).__name__}")

    def on_module_end(self, call_id, outputs, exception):
        self.lines.append(f"end {exception is None}")


def test_callbacks():
    logger = AgentLoggingCallback()
    dspy.configure(lm=ScriptedLM([{"reasoning": "r", "answer": "4"}]), callbacks=[logger])
    dspy.ChainOfThought("question -> answer")(question="2+2?")
    assert logger.lines == ["start ChainOfThought", "end True"]
