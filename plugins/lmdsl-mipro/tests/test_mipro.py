"""MIPROv2 mechanism tests with scripted LMs: outcomes known in advance."""

from __future__ import annotations

import random

import click
import pytest

import lmdsl
from lmdsl.cli.options import check_options
from lmdsl.evaluate import exact_match
from lmdsl.lm.request import current_call
from lmdsl.plugins import plugin_manager
from lmdsl.testing import ScriptedLM
from lmdsl_mipro import MIPROv2
from lmdsl_mipro import plugin as mipro_plugin

GOOD = "Say positive when the sentence praises the film."
POSITIVE = {"great", "lovely", "superb", "fine"}


@lmdsl.program
class Sentiment:
    def __init__(self):
        self.classify = lmdsl.Predict("text -> label: Literal['negative', 'positive']")

    def forward(self, text):
        return self.classify(text=text)


WORDS = ["great", "awful", "lovely", "dull", "superb", "bad", "fine", "boring"]
TRAIN = [lmdsl.Example(text=w, label="positive" if w in POSITIVE else "negative").with_inputs("text")
         for w in WORDS]


def sentiment_task(inputs):
    """Right only under GOOD; under any other instruction it says 'positive' (50 %)."""
    right = current_call.get().signature.instructions == GOOD
    gold = "positive" if inputs["text"] in POSITIVE else "negative"
    return {"label": gold if right else "positive"}


def proposer(instructions):
    """A scripted proposer LM: a dataset summary, then the given instructions in order."""
    queue = list(instructions)

    def answer(inputs):
        if "rows" in inputs:
            return {"summary": "Single words from film reviews with their sentiment."}
        return {"instruction": queue.pop(0) if queue else "Classify it."}

    return ScriptedLM(answer)


def test_mipro_finds_the_one_instruction_the_task_lm_answers_under():
    lmdsl.configure(lm=ScriptedLM(sentiment_task))
    prompt_lm = proposer(["Be vague.", GOOD, "Guess."])
    mipro = MIPROv2(exact_match, auto=None, num_candidates=4, num_trials=8, prompt_lm=prompt_lm,
                    max_bootstrapped_demos=0, max_labeled_demos=0, minibatch=False)
    program = Sentiment()
    compiled = mipro.compile(program, trainset=TRAIN, valset=TRAIN)

    assert compiled.classify.signature.instructions == GOOD
    assert program.classify.signature.instructions != GOOD  # the input program is untouched
    assert mipro.instructions["classify"] == [program.classify.signature.instructions, "Be vague.", GOOD, "Guess."]
    assert mipro.report.best_score == 100.0
    # the proposer was grounded: it saw the dataset summary, the program source and the step's fields
    step_prompt = prompt_lm.requests[1][-1]["content"]
    assert "Single words from film reviews" in step_prompt
    assert "class Sentiment" in step_prompt
    assert "label" in step_prompt and "text" in step_prompt
    assert mipro.report.lm_calls <= mipro.report.estimated_calls


def test_minibatch_trials_then_full_valset_checks_pick_the_winner():
    lmdsl.configure(lm=ScriptedLM(sentiment_task))
    val = TRAIN * 3
    mipro = MIPROv2(exact_match, auto=None, num_candidates=3, num_trials=6, minibatch_size=4,
                    minibatch_full_eval_steps=3, prompt_lm=proposer([GOOD, "Guess."]),
                    max_bootstrapped_demos=0, max_labeled_demos=0)
    compiled = mipro.compile(Sentiment(), trainset=TRAIN, valset=val)
    assert compiled.classify.signature.instructions == GOOD
    trials = [c for c in mipro.report.candidates if not c.details["full_valset"]]
    fulls = [c for c in mipro.report.candidates if c.details["full_valset"]]
    assert len(trials) == 6
    assert len(fulls) >= 2  # the default, then the best mean minibatch configurations
    assert mipro.report.candidates[mipro.report.best].details["instructions"]["classify"] == GOOD


def test_demo_sets_are_searched_with_instructions_and_a_compiled_program_keeps_its_demos(tmp_path):
    """The task LM answers right only when it sees demos: MIPRO must pick a set that has some,
    and the result saves and loads like any program."""

    def needs_demos(inputs):
        call = current_call.get()
        gold = "positive" if inputs["text"] in POSITIVE else "negative"
        return {"label": gold if call and len(_demos_in_prompt()) else "positive"}

    seen: list[int] = []

    def _demos_in_prompt():
        return seen

    lm = ScriptedLM(needs_demos)
    original = lm._complete

    def complete(messages, params):
        seen.clear()
        seen.extend([1] * (len(messages) > 2))  # demos are rendered as extra user/assistant turns
        return original(messages, params)

    lm._complete = complete
    lmdsl.configure(lm=lm)
    mipro = MIPROv2(exact_match, auto=None, num_candidates=3, num_trials=6, prompt_lm=proposer(["A.", "B."]),
                    max_bootstrapped_demos=2, max_labeled_demos=2, minibatch=False)
    compiled = mipro.compile(Sentiment(), trainset=TRAIN, valset=TRAIN)
    assert compiled.classify.demos
    assert mipro.report.best_score == 100.0
    path = compiled.save(tmp_path / "mipro.json")
    loaded = Sentiment().load(path)
    assert loaded.classify.signature.instructions == compiled.classify.signature.instructions
    assert len(loaded.classify.demos) == len(compiled.classify.demos)


# ---- TPE against exhaustive enumeration -------------------------------------------------

@lmdsl.program
class TwoSteps:
    def __init__(self):
        self.first = lmdsl.Predict("text -> a")
        self.second = lmdsl.Predict("text -> b")

    def forward(self, text):
        return lmdsl.Prediction(a=self.first(text=text).a, b=self.second(text=text).b)


GRID_ROWS = [lmdsl.Example(text=f"r{i}", a=f"A{i}", b=f"B{i}").with_inputs("text") for i in range(8)]


def half_each(example, prediction, trace=None):
    return (0.5 * (prediction.a == example.a)) + (0.5 * (prediction.b == example.b))


def graded_task(inputs):
    """Instruction 'quality k' makes a step right on k of the 8 rows: the objective is
    (k_first + k_second) / 16, with one best cell (7, 7) in an 8 x 8 grid."""
    call = current_call.get()
    text = call.signature.instructions
    k = int(text.split()[-1]) if text.startswith("quality") else 0
    row = int(inputs["text"][1:])
    field = next(iter(call.signature.outputs))
    right = row < k
    return {field: (f"{field.upper()}{row}" if right else "wrong")}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tpe_finds_the_best_cell_in_fewer_trials_than_enumerating_the_grid(seed):
    lmdsl.configure(lm=ScriptedLM(graded_task))
    rng = random.Random(100 + seed)
    first, second = [f"quality {k}" for k in range(1, 8)], [f"quality {k}" for k in range(1, 8)]
    rng.shuffle(first)
    rng.shuffle(second)
    grid = 8 * 8  # original instruction + 7 proposals per step; enumeration scores all 64 cells
    mipro = MIPROv2(half_each, auto=None, num_candidates=8, num_trials=grid // 2, seed=seed,
                    prompt_lm=proposer(first + second), max_bootstrapped_demos=0, max_labeled_demos=0,
                    minibatch=False)
    compiled = mipro.compile(TwoSteps(), trainset=GRID_ROWS, valset=GRID_ROWS)
    assert compiled.first.signature.instructions == "quality 7"
    assert compiled.second.signature.instructions == "quality 7"
    assert mipro.report.best_score == 100.0 * 14 / 16
    # an exhaustive search needs the whole grid to know the best; random-order enumeration finds
    # it after 32.5 cells on average; TPE found it within half the grid
    assert mipro.trials_to_best is not None and mipro.trials_to_best < grid // 2


# ---- options, registration ----------------------------------------------------------------

def test_bad_options_fail_before_any_lm_call():
    with pytest.raises(ValueError, match="num_candidates"):
        MIPROv2(exact_match, auto=None, num_candidates=0)
    with pytest.raises(ValueError, match="auto=None"):
        MIPROv2(exact_match, auto=None)
    with pytest.raises(ValueError, match="prompt_lm"):
        MIPROv2(exact_match, prompt_lm="no-provider")
    with pytest.raises(click.UsageError, match="auto"):
        check_options(MIPROv2, {"auto": "huge"}, "optimizer 'mipro'")
    with pytest.raises(click.UsageError, match="no option 'trials'"):
        check_options(MIPROv2, {"trials": 3}, "optimizer 'mipro'")
    options = check_options(MIPROv2, {"prompt_lm": "local/smollm2", "num_trials": 4}, "optimizer 'mipro'")
    assert MIPROv2(exact_match, **options).prompt_lm.model == "local/smollm2"


def test_registers_as_mipro_through_the_public_hook():
    manager = plugin_manager()
    manager.add(mipro_plugin, "mipro", distribution="lmdsl-mipro")
    assert lmdsl.get_teleprompter("mipro") is MIPROv2
    info = next(i for i in manager.plugins() if i.name == "mipro")
    assert info.registered["teleprompters"] == ["mipro"]
