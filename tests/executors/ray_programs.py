"""Programs, data and scripted LMs the executor tests run on threads and on Ray replicas.

Replicas import this module by target (its class, or this file by path), so everything they
need lives at module level: the program, and the LMs, found by name in this module.
Environment variables tune the scripted LM without changing its identity:
``LMDSL_TEST_LM_DELAY`` (seconds per call) and ``LMDSL_TEST_LM_MARKER`` (a file that gets one
line per finished call, written when the call returns).
"""

from __future__ import annotations

import os
import time
from typing import Any, Literal

import lmdsl
from lmdsl import Example, Predict, program
from lmdsl.testing import ScriptedLM


@lmdsl.signature
def mood(text: str) -> Literal["negative", "positive"]:
    """Classify the mood of the text.

    Returns:
        label: the mood.
    """


WRITE_NOTE = lmdsl.signature("text -> note")


@program
class Mood:
    def __init__(self):
        self.classify = Predict(mood)

    def forward(self, text):
        return self.classify(text=text)


@program
class NoteThenMood:
    """Two predictors: a note about the text, then the mood (traces have two steps)."""

    def __init__(self):
        self.note = Predict(WRITE_NOTE)
        self.classify = Predict(mood)

    def forward(self, text):
        note = self.note(text=text).note
        return self.classify(text=f"{text} ({note})")


def answer(inputs: dict[str, Any]) -> dict[str, Any]:
    delay = float(os.environ.get("LMDSL_TEST_LM_DELAY") or 0)
    if delay:
        time.sleep(delay)
    text = str(inputs.get("text", ""))
    if "explode" in text:
        raise RuntimeError(f"scripted failure on {text!r}")
    marker = os.environ.get("LMDSL_TEST_LM_MARKER")
    if marker:
        with open(marker, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return {"label": "positive" if "good" in text else "negative", "note": f"about {text.split()[0]}"}


def leaning_scores(inputs: dict[str, Any], replies: list[str]) -> list[float]:
    """Label scores that lean to "negative": a +1 bias on "positive" or more puts good texts right."""
    good = "good" in str(inputs.get("text", ""))
    return [(-1.5 if good else -3.0) if "positive" in reply else -1.0 for reply in replies]


# The LMs replicas find by name here: uncached (every run computes) and cached (resume tests).
lm = ScriptedLM(answer, scorer=leaning_scores)
cached_lm = ScriptedLM(answer, cache=True)


def rows(n: int, start: int = 0) -> list[Example]:
    """Good and bad texts, labelled by the rule the scripted LM follows except every fifth (so scores
    are neither 0 nor 100 and a row scored against the wrong example shows)."""
    out = []
    for i in range(start, start + n):
        good = i % 3 != 0
        text = f"text {i} is {'good' if good else 'bad'}"
        label = "positive" if good != (i % 5 == 4) else "negative"
        out.append(Example(text=text, label=label).with_inputs("text"))
    return out


def metric(example: Example, prediction: Any, trace: Any = None) -> bool:
    return example.label == prediction.label


# What the CLI finds in this module.
devset = rows(24)
trainset = rows(8, start=100)
