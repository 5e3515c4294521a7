"""Evaluate: score = mean x 100, per-example rows, failures, the error budget, usage, threads, progress."""

from __future__ import annotations

import pytest

import lmdsl
from lmdsl import Example, Predict, Prediction, program
from lmdsl.errors import ConfigError, ErrorBudgetExceeded
from lmdsl.evaluate import Evaluate, MetricError, exact_match

QA = lmdsl.signature("question -> answer")


@program
class QA_Program:
    def __init__(self):
        self.gen = Predict(QA)

    def forward(self, question):
        if question.startswith("crash"):
            raise RuntimeError(f"cannot answer {question}")
        return self.gen(question=question)


def rows(n: int, prefix: str = "q") -> list[Example]:
    return [Example(question=f"{prefix}{i}", answer=f"a{i}").with_inputs("question") for i in range(n)]


def right_on_even(inputs):
    i = int(inputs["question"].lstrip("qcrash"))
    return {"answer": f"a{i}" if i % 2 == 0 else "wrong"}


def test_score_is_mean_times_100_with_rows_in_order(scripted):
    scripted(right_on_even)
    result = Evaluate(rows(4), exact_match, display_progress=False)(QA_Program())
    assert result.score == 50.0
    assert float(result) == 50.0
    assert result.n == 4 and result.errors == 0
    assert [r.example.question for r in result.results] == ["q0", "q1", "q2", "q3"]
    assert [r.score for r in result.results] == [1.0, 0.0, 1.0, 0.0]
    assert [r.prediction.answer for r in result.results] == ["a0", "wrong", "a2", "wrong"]
    assert all(r.error is None for r in result.results)
    assert result.to_dict()["score"] == 50.0 and result.to_dict()["n"] == 4


def test_fractional_scores_are_averaged_and_rounded(scripted):
    scripted(right_on_even)
    metric_values = iter([1.0, 0.5, 0.25])
    result = Evaluate(rows(3), lambda ex, pred, trace=None: next(metric_values), display_progress=False)(QA_Program())
    assert result.score == round(100 * 1.75 / 3, 2) == 58.33


def test_a_raising_example_scores_failure_score_and_is_listed(scripted):
    scripted(right_on_even)
    devset = [*rows(2), Example(question="crash2", answer="a2").with_inputs("question")]
    result = Evaluate(devset, exact_match, display_progress=False, failure_score=0.0)(QA_Program())
    assert result.n == 3 and result.errors == 1
    assert result.score == round(100 / 3, 2)
    failed = result.results[2]
    assert failed.prediction is None and failed.score == 0.0
    assert failed.error.startswith("RuntimeError: cannot answer crash2 (at ")
    assert "test_evaluate.py" in failed.error


def test_failure_score_is_configurable(scripted):
    scripted(right_on_even)
    devset = [Example(question="crash0", answer="a0").with_inputs("question")]
    result = Evaluate(devset, exact_match, display_progress=False, failure_score=0.5)(QA_Program())
    assert result.score == 50.0 and result.errors == 1


@pytest.mark.parametrize("threads", [1, 3])
def test_error_budget_stops_with_a_clear_message(scripted, threads):
    lm = scripted(right_on_even)
    devset = [Example(question=f"crash{i}", answer="x").with_inputs("question") for i in range(20)]
    with pytest.raises(ErrorBudgetExceeded) as info:
        Evaluate(devset, exact_match, max_errors=2, num_threads=threads, display_progress=False)(QA_Program())
    message = str(info.value)
    assert message.startswith("stopped after 3 of 3 examples raised (max_errors=2); first error: RuntimeError: "
                              "cannot answer crash")
    assert "\n" not in message
    assert lm.requests == []  # the program raised before calling the LM


def test_error_budget_counts_only_errors(scripted):
    scripted(right_on_even)
    devset = [*rows(5), Example(question="crash9", answer="x").with_inputs("question")]
    result = Evaluate(devset, exact_match, max_errors=1, display_progress=False)(QA_Program())
    assert result.errors == 1 and result.n == 6


def test_a_raising_metric_stops_at_once_naming_metric_and_row(scripted):
    lm = scripted(right_on_even)

    def picky(example, prediction, trace=None):
        if example.question == "q1":
            return prediction.answer_text == example.answer
        return prediction.answer == example.answer

    with pytest.raises(MetricError) as info:
        Evaluate(rows(5), picky, display_progress=False, max_errors=100)(QA_Program())
    message = str(info.value)
    assert message.startswith("metric picky raised AttributeError: ")
    assert "'answer_text'" in message and "\n" not in message
    assert message.endswith(" on devset row 1 (Example({'question': 'q1', 'answer': 'a1'}, inputs=['question']))")
    assert len(lm.requests) == 2  # no more program runs after the metric failed


def test_a_metric_returning_a_non_number_is_a_metric_error(scripted):
    scripted(right_on_even)
    with pytest.raises(MetricError, match=r"^metric <lambda> raised ValueError: could not convert string to float"):
        Evaluate(rows(1), lambda ex, pred, trace=None: pred.answer, display_progress=False)(QA_Program())


def test_usage_and_wall_time(scripted):
    scripted(right_on_even)
    result = Evaluate(rows(3), exact_match, display_progress=False)(QA_Program())
    assert result.usage["lm_calls"] == 3 and result.usage["calls"] == 3
    assert result.usage["prompt_tokens"] > 0 and result.usage["completion_tokens"] == 6  # "Answer: a0"
    assert result.wall_time > 0


def test_threads_give_the_same_result_as_one(scripted):
    scripted(right_on_even)
    devset = [*rows(12), Example(question="crash3", answer="a3").with_inputs("question")]
    one = Evaluate(devset, exact_match, num_threads=1, display_progress=False)(QA_Program())
    four = Evaluate(devset, exact_match, num_threads=4, display_progress=False)(QA_Program())
    assert four.score == one.score == round(100 * 6 / 13, 2)
    assert [(r.example, r.score, r.error) for r in four.results] == [(r.example, r.score, r.error) for r in one.results]
    assert [r.prediction for r in four.results] == [r.prediction for r in one.results]
    assert four.usage["lm_calls"] == one.usage["lm_calls"] == 12


def test_threads_see_a_scoped_lm(scripted):
    from lmdsl.testing import ScriptedLM

    scripted(lambda inputs: {"answer": "global"})
    scoped = ScriptedLM(lambda inputs: {"answer": "a0"})
    with lmdsl.context(lm=scoped):
        result = Evaluate(rows(1) * 6, exact_match, num_threads=4, display_progress=False)(QA_Program())
    assert result.score == 100.0 and len(scoped.requests) == 6


def test_progress_goes_to_stderr_not_stdout(scripted, capsys):
    scripted(right_on_even)
    Evaluate(rows(4), exact_match, display_progress=True, label="dev")(QA_Program())
    out, err = capsys.readouterr()
    assert out == ""
    assert "dev 4/4" in err and "50.0%" in err


def test_progress_follows_the_setting(scripted, capsys):
    scripted(right_on_even)
    lmdsl.configure(display_progress=False)
    Evaluate(rows(2), exact_match)(QA_Program())
    assert capsys.readouterr() == ("", "")


def test_call_overrides_and_plain_predictions(scripted):
    scripted(right_on_even)
    evaluate = Evaluate(rows(2), exact_match, display_progress=False)

    @program
    class Echo:
        def forward(self, question):
            return Prediction(answer=question.replace("q", "a"))

    assert evaluate(Echo()).score == 100.0
    assert evaluate(Echo(), devset=rows(1, "z")).score == 0.0
    assert evaluate(Echo(), metric=lambda ex, pred, trace=None: 0.5).score == 50.0


def test_examples_without_inputs_are_refused_before_any_call(scripted):
    lm = scripted(right_on_even)
    devset = [*rows(2), Example(question="q2", answer="a2")]
    with pytest.raises(ConfigError, match=r"^evaluate: devset row 2 is not an Example with inputs marked "
                                          r"\(\.with_inputs\(\.\.\.\)\): Example\(\{'question': 'q2'"):
        Evaluate(devset, exact_match, display_progress=False)(QA_Program())
    assert lm.requests == []


def test_empty_devset_scores_zero():
    result = Evaluate([], exact_match, display_progress=False)(QA_Program())
    assert (result.score, result.n, result.errors) == (0.0, 0, 0)


@pytest.mark.parametrize("metric", [
    lambda example, pred: example.answer == pred.answer,
    lambda example, pred, *, trace=None: trace is None and example.answer == pred.answer,
    lambda example, pred, *args: not args[0] and example.answer == pred.answer,
], ids=["two-args", "keyword-trace", "var-args"])
def test_metrics_may_take_two_arguments_or_the_trace_by_keyword(scripted, metric):
    scripted([{"answer": "a"}, {"answer": "x"}])
    devset = [Example(question=f"q{i}", answer="a").with_inputs("question") for i in range(2)]
    assert Evaluate(devset, metric, display_progress=False)(Predict("question -> answer")).score == 50.0


def test_a_metric_that_takes_one_argument_is_a_metric_error(scripted):
    scripted([{"answer": "a"}])
    devset = [Example(question="q", answer="a").with_inputs("question")]
    with pytest.raises(MetricError, match="TypeError"):
        Evaluate(devset, lambda pred: True, display_progress=False)(Predict("question -> answer"))
