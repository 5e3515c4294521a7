"""lmdsl.Assert / lmdsl.Suggest: backtracking with feedback, switches, loops, threads, compiling."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

import pytest

import lmdsl
from lmdsl import Example, Predict, program
from lmdsl.assertions import Assert, Suggest, counting

SHORT = "Answer must be under 10 characters"


def _last_user(request: list[dict]) -> str:
    return request[-1]["content"]


def _system(request: list[dict]) -> str:
    return request[0]["content"]


@program
class TwoStep:
    """question -> query (upstream) -> answer (checked)."""

    def __init__(self, kind: str = "suggest", target: str | None = None):
        self.kind = kind
        self.target = target
        self.rewrite = Predict("question -> query")
        self.answer = Predict("query -> answer")

    def forward(self, question: str):
        query = self.rewrite(question=question).query
        pred = self.answer(query=query)
        check = Suggest if self.kind == "suggest" else Assert
        target = getattr(self, self.target) if self.target else None
        check(len(pred.answer) < 10, SHORT, target)
        return pred


def long_then_short(inputs):
    """Upstream echoes; the answerer writes a long answer unless it is shown feedback."""
    if "question" in inputs:
        return {"query": f"q:{inputs['question']}"}
    if "feedback" in inputs:
        return {"answer": "short"}
    return {"answer": "a much too long answer"}


# ---- feedback in the retried prompt -----------------------------------------------------
def test_retried_prompt_shows_feedback_and_past_outputs(scripted):
    lm = scripted(long_then_short, cache=True)
    pred = TwoStep()(question="capital of France?")
    assert pred.answer == "short"
    # 3 real model calls: rewrite once, answer twice (the re-run rewrite came from the cache)
    assert len(lm.requests) == 3
    first, retry = lm.requests[1], lm.requests[2]
    assert "Feedback" not in _last_user(first)
    user = _last_user(retry)
    assert "Query: q:capital of France?" in user
    assert "Past Answer: a much too long answer" in user
    assert f"Feedback: {SHORT}" in user
    assert "previous answer is shown with feedback" in _system(retry)
    cached = [e["cached"] for e in lm.history]
    assert cached == [False, False, True, False]


def test_only_the_target_predictor_gets_feedback(scripted):
    seen: list[dict] = []

    def answer(inputs):
        seen.append(dict(inputs))
        if "question" in inputs:
            return {"query": "fixed" if "feedback" in inputs else "bad query"}
        return {"answer": "x" * 20 if inputs["query"] == "bad query" else "ok"}

    scripted(answer, cache=True)
    pred = TwoStep(target="rewrite")(question="q")
    assert pred.answer == "ok"
    # rewrite(q), answer(bad) | rewrite(q + feedback), answer(fixed) -- no feedback for `answer`
    assert [sorted(s) for s in seen] == [["question"], ["query"], ["feedback", "past_query", "question"], ["query"]]
    assert seen[2]["past_query"] == "bad query" and seen[2]["feedback"] == SHORT


def test_a_module_target_means_its_last_predictor_call(scripted):
    seen: list[dict] = []

    def answer(inputs):
        seen.append(dict(inputs))
        if "question" in inputs:
            return {"query": "fixed" if "feedback" in inputs else "bad query"}
        return {"answer": "x" * 20 if inputs["query"] == "bad query" else "ok"}

    scripted(answer, cache=True)

    @program
    class Outer:
        def __init__(self):
            self.inner = TwoStep(kind="suggest", target="rewrite")
            self.first = self.inner.rewrite

        def forward(self, question):
            pred = self.inner.answer(query=self.inner.rewrite(question=question).query)
            Suggest(len(pred.answer) < 10, SHORT, target=self.inner)  # its last call: `answer`
            assert lmdsl.assertions.mode() == "on"
            return pred

    seen.clear()
    with lmdsl.context(max_backtracks=1):
        assert Outer()(question="q").answer == "x" * 20
    assert [sorted(s) for s in seen] == [["question"], ["query"], ["feedback", "past_answer", "query"]]


def test_a_prediction_target_gets_the_feedback(scripted):
    @program
    class P:
        def __init__(self):
            self.gen = Predict("topic -> title")

        def forward(self, topic):
            pred = self.gen(topic=topic)
            Suggest(pred.title.istitle(), "Use Title Case", target=pred)
            return pred

    scripted(lambda i: {"title": "Good Title" if "feedback" in i else "bad title"}, cache=True)
    assert P()(topic="t").title == "Good Title"


# ---- budgets, Assert vs Suggest ---------------------------------------------------------
def test_max_backtracks_is_honoured_and_assert_raises_with_details(scripted):
    lm = scripted(lambda i: {"query": i["question"]} if "question" in i else {"answer": f"too long answer {len(i)}"},
                  cache=True)
    with pytest.raises(lmdsl.AssertionFailed) as info:
        TwoStep(kind="assert")(question="q")
    err = info.value
    assert err.attempts == 3  # 1 + max_backtracks (2)
    assert err.messages == [SHORT]
    assert err.outputs == {"answer": "too long answer 3"}  # the last attempt's outputs
    assert "still failing after 3 attempt(s)" in str(err)
    answer_calls = [r for r in lm.requests if "Query:" in _last_user(r)]
    assert len(answer_calls) == 3

    lm.requests.clear()
    with lmdsl.context(max_backtracks=0), pytest.raises(lmdsl.AssertionFailed) as info:
        TwoStep(kind="assert")(question="other")
    assert info.value.attempts == 1
    assert len(lm.requests) == 2  # no retry at all


def test_messages_accumulate_across_attempts(scripted):
    @program
    class P:
        def __init__(self):
            self.gen = Predict("number: int -> word")

        def forward(self, number):
            word = self.gen(number=number).word
            Assert(word.islower(), "Use lower case")
            Assert(len(word) <= 4, "At most 4 letters")
            return word

    def answer(inputs):
        fb = inputs.get("feedback", "")
        if "At most 4" in fb:
            return {"word": "four"}
        if "lower case" in fb:
            return {"word": "eleven"}
        return {"word": "ELEVEN"}

    lm = scripted(answer, cache=True)
    assert P()(number=11) == "four"
    last = _last_user(lm.requests[-1])
    assert "Feedback:\n- Use lower case\n- At most 4 letters" in last
    assert "Past Word: eleven" in last


def test_suggest_logs_and_continues_after_the_last_attempt(scripted, caplog):
    lm = scripted(lambda i: {"query": "q"} if "question" in i else {"answer": "far too long, always"}, cache=True)
    with caplog.at_level(logging.WARNING, logger="lmdsl.assertions"):
        pred = TwoStep()(question="q")
    assert pred.answer == "far too long, always"
    assert len(lm.requests) == 3  # rewrite + answer, then 2 retries; the third prompt repeats -> cache
    assert any("Suggest failed after 3 attempt(s)" in r.message and SHORT in r.message for r in caplog.records)


def test_suggest_returns_its_condition(scripted):
    scripted(long_then_short, cache=True)
    results = []

    @program
    class P:
        def __init__(self):
            self.gen = Predict("query -> answer")

        def forward(self, query):
            pred = self.gen(query=query)
            results.append(Suggest(len(pred.answer) < 10, SHORT))
            return pred

    P()(query="x")
    assert results == [True]  # the first, failing evaluation raised the backtrack signal


def test_checks_outside_a_program(scripted):
    scripted([{"answer": "long long long"}])
    Predict("q -> answer")(q="x")
    assert Suggest(False, "soft") is False
    with pytest.raises(lmdsl.AssertionFailed) as info:
        Assert(False, "hard")
    assert info.value.attempts == 1 and info.value.messages == ["hard"]
    assert Assert(1, "truthy values pass") is True


def test_backtrack_signal_is_not_swallowed_by_except_exception(scripted):
    @program
    class Careless:
        def __init__(self):
            self.answer = Predict("query -> answer")

        def forward(self, query):
            pred = self.answer(query=query)
            try:
                Assert(len(pred.answer) < 10, SHORT)
            except Exception:
                pytest.fail("the backtrack signal must not be an Exception")
            return pred

    scripted(long_then_short, cache=True)
    assert Careless()(query="x").answer == "short"


def test_target_that_did_not_run_means_no_backtracking(scripted, caplog):
    lm = scripted(long_then_short, cache=True)

    @program
    class P:
        def __init__(self):
            self.answer = Predict("query -> answer")
            self.unused = Predict("a -> b")

        def forward(self, query):
            pred = self.answer(query=query)
            Suggest(len(pred.answer) < 10, SHORT, target=self.unused)
            return pred

    with caplog.at_level(logging.WARNING, logger="lmdsl.assertions"):
        assert P()(query="x").answer == "a much too long answer"
    assert len(lm.requests) == 1


def test_target_of_the_wrong_type(scripted):
    scripted(long_then_short)

    @program
    class Bad:
        def __init__(self):
            self.answer = Predict("query -> answer")

        def forward(self, query):
            pred = self.answer(query=query)
            Suggest(False, "x", target="answer")
            return pred

    with pytest.raises(TypeError, match="target must be a predictor, a module or a Prediction, got str"):
        Bad()(query="x")


# ---- switches ---------------------------------------------------------------------------
def test_assertions_off_makes_checks_no_ops(scripted):
    lm = scripted(long_then_short, cache=True)
    with lmdsl.context(assertions="off"):
        pred = TwoStep(kind="assert")(question="q")
    assert pred.answer == "a much too long answer"
    assert len(lm.requests) == 2
    lmdsl.configure(assertions="off")
    assert Assert(False, "no-op") is False


def test_suggest_only_turns_asserts_into_suggestions(scripted, caplog):
    lm = scripted(lambda i: {"query": "q"} if "question" in i else {"answer": "never short enough"}, cache=True)
    with lmdsl.context(assertions="suggest-only"), caplog.at_level(logging.WARNING, logger="lmdsl.assertions"):
        pred = TwoStep(kind="assert")(question="q")
    assert pred.answer == "never short enough"
    assert len(lm.requests) == 3  # it still backtracked
    assert any("Assert failed after 3 attempt(s)" in r.message for r in caplog.records)


def test_per_program_switch_and_context_precedence(scripted):
    lm = scripted(long_then_short, cache=True)
    off = lmdsl.assertions.configure(TwoStep(kind="assert"), "off")
    assert off(question="a").answer == "a much too long answer"
    assert lmdsl.assertions.configure(off.deepcopy(), None) is not None  # clearing works on copies
    copy = off.deepcopy()  # the setting travels with copies (compiled programs)
    assert copy(question="b").answer == "a much too long answer"
    n = len(lm.requests)
    with lmdsl.context(assertions="on"):  # an explicit context wins over the program's own setting
        assert off(question="c").answer == "short"
    assert len(lm.requests) == n + 3

    budget = lmdsl.assertions.configure(TwoStep(kind="assert"), max_backtracks=1)
    lm2 = scripted(lambda i: {"query": "q"} if "question" in i else {"answer": f"still too long {len(i)}"},
                   cache=True)
    with pytest.raises(lmdsl.AssertionFailed) as info:
        budget(question="d")
    assert info.value.attempts == 2 and len(lm2.requests) == 3
    with pytest.raises(lmdsl.ConfigError):
        lmdsl.assertions.configure(TwoStep(), "sometimes")
    with lmdsl.context(assertions="sometimes"), pytest.raises(lmdsl.ConfigError):
        TwoStep()(question="e")


def test_nested_program_with_its_own_setting(scripted):
    scripted(long_then_short, cache=True)

    @program
    class Outer:
        def __init__(self):
            self.inner = lmdsl.assertions.configure(TwoStep(kind="assert"), "off")

        def forward(self, question):
            return self.inner(question=question)

    assert Outer()(question="q").answer == "a much too long answer"


# ---- loops ------------------------------------------------------------------------------
@program
class Hops:
    """The seed's multi-hop query loop: the same predictor called once per hop."""

    def __init__(self, hops: int = 3):
        self.hops = hops
        self.generate_query = Predict("context, question -> query")

    def forward(self, question):
        context, queries = "", []
        for _ in range(self.hops):
            query = self.generate_query(context=context, question=question).query
            Suggest(query not in queries, "Query should be distinct from: " + "; ".join(queries))
            queries.append(query)
            context += f" [{query}]"
        return queries


def test_feedback_goes_to_the_right_call_in_a_loop(scripted):
    seen: list[dict] = []

    def answer(inputs):
        seen.append(dict(inputs))
        if "feedback" in inputs:
            return {"query": "second hop, rephrased"}
        return {"query": "first hop" if not inputs["context"] else "second hop" if "second" not in inputs[
            "context"] else "first hop"}

    # hop 1 -> "first hop"; hop 2 -> "second hop"; hop 3 repeats "first hop": fails, feedback to call 3 only
    scripted(answer, cache=True)
    queries = Hops()(question="q")
    assert queries == ["first hop", "second hop", "second hop, rephrased"]
    fed = [s for s in seen if "feedback" in s]
    assert len(fed) == 1
    assert fed[0]["past_query"] == "first hop"
    assert fed[0]["context"] == " [first hop] [second hop]"
    assert fed[0]["feedback"] == "Query should be distinct from: first hop; second hop"
    assert len(seen) == 4  # hops 1-2 of the re-run came from the cache


# ---- concurrency ------------------------------------------------------------------------
def test_concurrent_programs_in_threads_do_not_see_each_others_feedback(scripted):
    barrier = threading.Barrier(2, timeout=10)
    prompts: dict[str, list[str]] = {"alpha": [], "beta": []}
    lock = threading.Lock()

    def answer(inputs):
        q = inputs.get("question") or inputs["query"]
        if "question" in inputs:
            return {"query": q}
        with lock:
            prompts[q].append(inputs.get("feedback", ""))
        if "feedback" not in inputs:
            barrier.wait()  # both programs are mid-run before either backtracks
            return {"answer": f"{q} is far too long"}
        return {"answer": q[:4]}

    scripted(answer, cache=True)

    @program
    class P:
        def __init__(self):
            self.rewrite = Predict("question -> query")
            self.answer = Predict("query -> answer")

        def forward(self, question):
            pred = self.answer(query=self.rewrite(question=question).query)
            Suggest(len(pred.answer) < 10, f"{question}: shorter please")
            return pred

    results: dict[str, str] = {}

    def run(q):
        results[q] = P()(question=q).answer

    threads = [threading.Thread(target=run, args=(q,)) for q in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"alpha": "alph", "beta": "beta"}
    assert prompts == {"alpha": ["", "alpha: shorter please"], "beta": ["", "beta: shorter please"]}


def test_concurrent_async_programs_backtrack_independently(scripted):
    scripted(long_then_short, cache=True)

    @program
    class P:
        def __init__(self):
            self.answer = Predict("query -> answer")

        def forward(self, query):  # pragma: no cover - aforward is used
            raise AssertionError

        async def aforward(self, query):
            pred = await self.answer.acall(query=query)
            await asyncio.sleep(0)
            Assert(len(pred.answer) < 10, f"{query}: too long")
            return pred

    async def main():
        return await asyncio.gather(P().acall(query="one"), P().acall(query="two"))

    a, b = asyncio.run(main())
    assert a.answer == b.answer == "short"


# ---- counting and compiling -------------------------------------------------------------
def test_counting_reports_the_final_attempt_of_each_run(scripted):
    def answer(inputs):
        if "question" in inputs:
            return {"query": inputs["question"]}
        if inputs["query"] == "hard":
            return {"answer": "never short enough"}
        return {"answer": "short" if "feedback" in inputs else "too long at first"}

    scripted(answer, cache=True)
    program_ = TwoStep()
    with counting() as counter:
        program_(question="easy")
        program_(question="hard")
        with lmdsl.context(assertions="off"):
            program_(question="easy2")
    assert counter.runs == 3 and counter.runs_passed == 1
    assert counter.summary() == {SHORT: {"kind": "suggest", "passed": 1, "failed": 2, "rate": 0.3333}}


def _compile_program():
    @program
    class QA:
        def __init__(self):
            self.answer = Predict("question -> answer")

        def forward(self, question):
            pred = self.answer(question=question)
            Suggest(pred.answer.islower(), "Answer in lower case", name="lower case")
            Assert(pred.answer != "unknown", "Do not answer 'unknown'")
            return pred

    return QA()


def _qa_lm(inputs):
    q = inputs["question"]
    if q == "q3":
        return {"answer": "unknown"}  # fails the Assert every time
    if "feedback" in inputs:
        return {"answer": f"a{q[1:]}"}
    return {"answer": f"A{q[1:]}"}  # upper case first: needs one backtrack


def test_bootstrap_keeps_the_corrected_outputs_as_demos(scripted):
    from lmdsl.optimizers import BootstrapFewShot

    scripted(_qa_lm, cache=True)
    trainset = [Example(question=f"q{i}", answer=f"a{i}").with_inputs("question") for i in (1, 2, 3)]
    tp = BootstrapFewShot(lambda ex, pred, trace=None: pred.answer == ex.answer, max_bootstrapped_demos=3,
                          max_labeled_demos=0)
    tp.verbose = False
    with lmdsl.context(display_progress=False):
        student = tp.compile(_compile_program(), trainset=trainset)
    demos = student.answer.demos
    assert [(d.question, d.answer) for d in demos] == [("q1", "a1"), ("q2", "a2")]
    assert all(set(d.to_dict()) == {"question", "answer", "augmented"} for d in demos)
    assert tp.stats["passed"] == 2
    assert tp.stats["errors"] == 0  # the failed Assert counts as a failed run, not an error
    assert tp.stats.get("assertion_failures") == 1


def test_random_search_reports_how_often_each_suggestion_passed(scripted):
    from lmdsl.optimizers import BootstrapFewShotWithRandomSearch

    scripted(_qa_lm, cache=True)
    trainset = [Example(question=f"q{i}", answer=f"a{i}").with_inputs("question") for i in (1, 2, 3)]
    tp = BootstrapFewShotWithRandomSearch(lambda ex, pred, trace=None: pred.answer == ex.answer,
                                          num_candidate_programs=1, max_bootstrapped_demos=2, max_labeled_demos=0)
    tp.verbose = False
    with lmdsl.context(display_progress=False, assertions="suggest-only"):
        tp.compile(_compile_program(), trainset=trainset)
    details = tp.report.candidates[0].details["assertions"]
    assert details["runs"] == 3
    checks = details["checks"]
    assert checks["lower case"] == {"kind": "suggest", "passed": 3, "failed": 0, "rate": 1.0}
    assert checks["Do not answer 'unknown'"]["failed"] == 1


# ---- examples/quiz.py -------------------------------------------------------------------
def _load_quiz():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "quiz.py"
    spec = importlib.util.spec_from_file_location("lmdsl_example_quiz", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quiz_example_corrects_its_json(scripted):
    quiz = _load_quiz()
    good = {"options": ["Lyon", "Paris", "Nice", "Lille"], "answer": "B"}
    replies = iter([
        '{"options": ["Paris", "Paris"',  # truncated JSON
        '{"options": ["Paris", "Paris", "Paris", "Paris"], "answer": "A"}',
        json.dumps(good),
    ])
    lm = scripted(lambda inputs: {"quiz": next(replies)})
    program_ = quiz.Quiz()
    with counting() as counter:
        pred = program_(question="What is the capital of France?", answer="Paris")
    assert pred.quiz == good
    example = Example(question="What is the capital of France?", answer="Paris")
    assert quiz.usable_quiz(example, pred) and quiz.suggestions_passed(example, pred)
    second, third = (r[-1]["content"] for r in lm.requests[1:])
    assert "Feedback: The quiz must be valid JSON (Expecting ',' delimiter" in second
    assert "Feedback:\n- The quiz must be valid JSON" in third and "- The four options must all be different." in third
    assert 'Past Quiz: {"options": ["Paris", "Paris", "Paris", "Paris"], "answer": "A"}' in third
    assert counter.summary()["distinct options"]["passed"] == 1
    # module-level data for `lmdsl compile examples/quiz.py:Quiz`
    assert quiz.trainset and quiz.valset and quiz.metric is quiz.usable_quiz
    assert all(set(ex.inputs()) == {"question", "answer"} for ex in quiz.trainset)
    assert all(ex.answer.lower() not in ("yes", "no") for ex in quiz.devset)


def test_quiz_rules():
    quiz = _load_quiz()
    assert quiz.parse_quiz("[1, 2]") == (None, "it is a JSON list, not an object")
    assert quiz.shape_problem({"options": ["a", "b"], "answer": "A"}).startswith(
        '"options" must be a list of exactly 4')
    assert quiz.shape_problem({"options": list("abcd"), "answer": "E"}).startswith('"answer"')
    assert quiz.shape_problem({"question": "q"}).startswith('the keys must be exactly "options" and "answer"')
    ok = {"options": ["x", "The Paris", "y", "z"], "answer": "B"}
    assert not quiz.shape_problem(ok) and quiz.key_correct(ok, "Paris") and quiz.answer_included(ok, "paris")
    assert not quiz.key_correct({**ok, "answer": "A"}, "Paris")


def test_lmdsl_compile_quiz_reports_how_often_each_rule_passed(scripted, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from lmdsl.cli.main import cli

    def reply(inputs):
        answer = inputs["answer"]
        if "feedback" not in inputs and answer.startswith("B"):  # first try: prose, not JSON
            return {"quiz": f"The answer is {answer}"}
        return {"quiz": json.dumps({"options": [answer, "x", "y", "z"], "answer": "A"})}

    scripted(reply, cache=True)
    rows = [{"question": f"Question {i}?", "answer": a} for i, a in enumerate(["Alpha", "Beta", "Gamma", "Bravo"])]
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    monkeypatch.chdir(tmp_path)
    quiz_py = str(Path(__file__).resolve().parents[1] / "examples" / "quiz.py")
    result = CliRunner().invoke(cli, ["compile", f"{quiz_py}:Quiz", "--trainset", str(data), "--valset", str(data),
                                      "-O", "num_candidate_programs=1", "-O", "max_bootstrapped_demos=2", "-O", "max_labeled_demos=0",
                                      "-o", str(tmp_path / "quiz.json"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["baseline_score"] == report["score"] == 100.0  # the two "B" answers needed a backtrack
    checks = report["report"]["candidates"][0]["details"]["assertions"]
    assert checks["runs"] == checks["runs_passed"] == 4
    assert checks["checks"]["valid JSON"] == {"kind": "assert", "passed": 4, "failed": 0, "rate": 1.0}
    bootstrap = report["report"]["candidates"][2]
    assert bootstrap["name"] == "bootstrap" and bootstrap["demos"] == {"generate": 2}
    assert (tmp_path / "quiz.json").exists()


def test_sync_and_async_runs_take_the_same_path(scripted):
    # One loop drives both: same retries, same final checks counted, same error when retries run out.
    @program
    class Both:
        def __init__(self, limit):
            self.limit = limit
            self.answer = Predict("query -> answer")

        def forward(self, query):
            pred = self.answer(query=query)
            Assert(len(pred.answer) < self.limit, "too long")
            return pred

        async def aforward(self, query):
            pred = await self.answer.acall(query=query)
            Assert(len(pred.answer) < self.limit, "too long")
            return pred

    for limit, expected in ((10, "short"), (3, None)):
        outcomes = []
        for run in (lambda p: p(query="q"), lambda p: asyncio.run(p.acall(query="q"))):
            lm = scripted(long_then_short, cache=True)
            with counting() as counter:
                try:
                    outcomes.append((run(Both(limit)).answer, len(lm.history), counter.to_dict()))
                except lmdsl.AssertionFailed as exc:
                    outcomes.append((exc.attempts, len(lm.history), counter.to_dict()))
        assert outcomes[0] == outcomes[1]
        assert outcomes[0][0] == (expected or 3)


def test_old_import_paths_still_work():
    import importlib
    import sys

    from lmdsl.program.backtracking import state

    sys.modules.pop("lmdsl.primitives.backtrack", None)
    with pytest.warns(DeprecationWarning, match="lmdsl.program.backtracking.state"):
        old = importlib.import_module("lmdsl.primitives.backtrack")
    assert old.feedback_for is state.feedback_for and old.Run is state.Run
    from lmdsl.program.backtracking import Backtrack, counting, effective_mode  # noqa: F401  (the old module's names)
