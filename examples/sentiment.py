"""Sentiment of movie-review sentences (SST-2): the README's main example.

    lmdsl compile examples/sentiment.py:Sentiment          # zero-shot -> compiled, on the embedded model
    lmdsl evaluate Sentiment.compiled.json   # on the 140 dev sentences the optimizer never saw

Three stages on the embedded SmolLM2-135M, all offline:

1. zero-shot: the typed signature alone (the grammar makes every reply a valid label);
2. few-shot compiled: ``BootstrapFewShotWithRandomSearch`` picks demos from the model's own
   successful runs (``lmdsl compile``, the default optimizer);
3. fine-tuned: ``BootstrapFinetune`` teaches the model from those traces
   (``lmdsl compile ... --optimizer bootstrap-finetune`` with the ``lmdsl-lora`` plugin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lmdsl import Predict, program, signature
from lmdsl.data import load_jsonl
from lmdsl.evaluate import exact_match

DATA = Path(__file__).parent / "data"


@signature
def classify(text: str) -> Literal["negative", "positive"]:
    """Classify the sentiment of a movie review sentence.

    Args:
        text: one sentence from a movie review.

    Returns:
        label: the sentiment of the sentence.
    """


@program
class Sentiment:
    def __init__(self) -> None:
        self.classify = Predict(classify)

    def forward(self, text: str):
        return self.classify(text=text)


# Module-level data the CLI uses when --trainset/--valset/--metric are not given.
trainset = load_jsonl(DATA / "sst2_train.jsonl", inputs=["text"], limit=40)
_dev = load_jsonl(DATA / "sst2_dev.jsonl", inputs=["text"])
valset = _dev[:60]  # the optimizer scores candidates on these
devset = _dev[60:]  # held out from compiling: `lmdsl evaluate` reports on these
metric = exact_match
