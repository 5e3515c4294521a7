"""GEPA on the real embedded model with a small budget (bench/optimizers.py has full size)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import lmdsl
from lmdsl.evaluate import Evaluate, Feedback, exact_match
from lmdsl.lm.local import local_extra_installed
from lmdsl_gepa import GEPA

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not local_extra_installed(), reason="needs pip install 'lmdsl[local]'"),
]

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "examples"))


def explained(example, prediction, trace=None):
    if prediction.label == example.label:
        return Feedback(1.0, "correct")
    return Feedback(0.0, f"wrong: the sentence is {example.label}, the answer was {prediction.label}")


def test_gepa_reflects_with_the_embedded_model_within_its_budget(tmp_path):
    from sentiment import Sentiment, trainset, valset

    lmdsl.configure(lm=lmdsl.LM("local/smollm2"), display_progress=False)
    val = valset[:8]
    gepa = GEPA(explained, reflection_lm="local/smollm2", max_metric_calls=30, reflection_minibatch_size=3,
                reflection_max_tokens=60)
    compiled = gepa.compile(Sentiment(), trainset=trainset[:12], valset=val)
    assert gepa.metric_calls <= 30
    reflections = [h for h in gepa.history if h["kind"] == "reflect" and "proposal" in h]
    assert reflections, gepa.history  # the model was asked at least once
    # the best candidate by valset mean is returned, so it is never below the program as given
    baseline = Evaluate(val, exact_match)(Sentiment()).score
    assert Evaluate(val, exact_match)(compiled).score >= baseline
    assert 0 < gepa.report.lm_calls <= gepa.report.estimated_calls
    loaded = Sentiment().load(compiled.save(tmp_path / "gepa.json"))
    assert loaded.classify.signature.instructions == compiled.classify.signature.instructions
