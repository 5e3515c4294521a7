import pytest

import lmdsl
from lmdsl.evaluate import exact_match
from lmdsl.plugins import plugin_manager
from lmdsl.testing import ScriptedLM
from lmdsl_copro import COPRO
from lmdsl_copro import plugin as copro_plugin

GOOD = "Say positive when the sentence praises the film."


@lmdsl.program
class Sentiment:
    def __init__(self):
        self.classify = lmdsl.Predict("text -> label: Literal['negative', 'positive']")

    def forward(self, text):
        return self.classify(text=text)


TRAIN = [lmdsl.Example(text=t, label=label).with_inputs("text") for t, label in
         [("great", "positive"), ("awful", "negative"), ("lovely", "positive"), ("dull", "negative")]]


def test_copro_keeps_the_instruction_that_scores_best():
    from lmdsl.lm.request import current_call

    def task(inputs):
        call = current_call.get()
        right = call.signature.instructions == GOOD
        gold = {"great": "positive", "lovely": "positive"}.get(inputs["text"], "negative")
        return {"label": gold if right else "positive"}

    lmdsl.configure(lm=ScriptedLM(task))
    proposals = iter([["Be vague."], [GOOD, "Another try."]])
    prompt_lm = ScriptedLM(lambda inputs: {"proposed_instruction": "unused"})

    calls = []

    def complete(messages, params):
        from lmdsl.lm.lm import Completion

        calls.append((messages, params))
        texts = [f"Proposed Instruction: {p}" for p in next(proposals)]
        return Completion(texts, {"prompt_tokens": 1, "completion_tokens": 1})

    prompt_lm._complete = complete
    copro = COPRO(exact_match, prompt_model=prompt_lm, breadth=2, depth=1)
    program = Sentiment()
    compiled = copro.compile(program, trainset=TRAIN)

    assert compiled.classify.signature.instructions == GOOD
    assert program.classify.signature.instructions != GOOD  # input not mutated
    scores = {c.details["instruction"]: c.score for c in copro.report.candidates}
    assert scores[GOOD] == 100.0
    assert scores["Be vague."] == 50.0
    # round 1 proposals were conditioned on the attempts and their scores, worst first
    attempts_prompt = calls[1][0][-1]["content"]
    assert "Instruction: Be vague.\nScore: 50.0" in attempts_prompt
    assert calls[0][1]["n"] == 1 and calls[1][1]["n"] == 2


def test_original_instruction_kept_on_ties():
    lmdsl.configure(lm=ScriptedLM(lambda inputs: {"label": "positive"}))
    prompt_lm = ScriptedLM(lambda inputs: {"proposed_instruction": "Something else entirely."})
    program = Sentiment()
    compiled = COPRO(exact_match, prompt_model=prompt_lm, breadth=2, depth=1).compile(program, trainset=TRAIN)
    assert compiled.classify.signature.instructions == program.classify.signature.instructions


def test_bad_options():
    with pytest.raises(ValueError, match="breadth"):
        COPRO(exact_match, breadth=1)


def test_registers_as_copro_through_the_public_hook():
    manager = plugin_manager()
    manager.add(copro_plugin, "copro", distribution="lmdsl-copro")
    assert lmdsl.get_teleprompter("copro") is COPRO
    info = next(i for i in manager.plugins() if i.name == "copro")
    assert info.registered["teleprompters"] == ["copro"]
    assert not info.builtin

