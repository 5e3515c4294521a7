"""Impossible optimizer settings are refused when the optimizer is built, naming it and the option."""

from __future__ import annotations

import pytest

from lmdsl.errors import ConfigError
from lmdsl.evaluate import exact_match
from lmdsl.optimizers import BootstrapFewShot, BootstrapFewShotWithRandomSearch, Ensemble, LabeledFewShot


@pytest.mark.parametrize(("build", "message"), [
    (lambda: BootstrapFewShotWithRandomSearch(exact_match, num_candidate_programs=-3),
     "random-search: num_candidate_programs must be a whole number >= 0, got -3"),
    (lambda: BootstrapFewShotWithRandomSearch(exact_match, max_labeled_demos=2.5),
     "random-search: max_labeled_demos must be a whole number >= 0, got 2.5"),
    (lambda: BootstrapFewShotWithRandomSearch(exact_match, stop_at_score=float("nan")),
     "random-search: stop_at_score must be a finite number, got nan"),
    (lambda: BootstrapFewShot(exact_match, max_rounds=0), "bootstrap: max_rounds must be a whole number >= 1, got 0"),
    (lambda: BootstrapFewShot(exact_match, num_threads=0), "bootstrap: num_threads must be a whole number >= 1"),
    (lambda: BootstrapFewShot(exact_match, max_errors=True), "bootstrap: max_errors must be a whole number >= 0"),
    (lambda: LabeledFewShot(k=-1), "labeled-few-shot: k must be a whole number >= 0, got -1"),
    (lambda: Ensemble(size=0), "ensemble: size must be a whole number >= 1, got 0"),
])
def test_impossible_settings_are_refused_at_construction(build, message):
    with pytest.raises(ConfigError, match=f"^{message}"):
        build()


def test_sensible_edges_are_accepted():
    BootstrapFewShotWithRandomSearch(exact_match, num_candidate_programs=0, max_bootstrapped_demos=0, seed=-1)
    LabeledFewShot(k=0)
    Ensemble(size=None)


def test_wrapping_optimizers_say_so():
    from lmdsl.optimizers import KNNFewShot

    assert KNNFewShot.wraps_program and Ensemble.wraps_program and not BootstrapFewShot.wraps_program


def test_choices_and_the_error_class_a_plugin_keeps():
    from lmdsl.optimizers.base import check_settings

    check_settings("mine", choices={"auto": (None, ["light", None])})
    with pytest.raises(ConfigError, match=r"^mine: auto must be one of 'light', None, got 'huge'$"):
        check_settings("mine", choices={"auto": ("huge", ["light", None])})
    with pytest.raises(ValueError, match=r"^mine: n must be a whole number >= 1, got 0$"):
        check_settings("mine", counts={"n": (0, 1)}, error=ValueError)


def test_an_lm_option_given_by_name_becomes_an_lm_or_is_refused_by_name():
    import lmdsl
    from lmdsl.optimizers.base import lm_option

    assert lm_option("local/smollm2", "mine", "prompt_lm").model == "local/smollm2"
    given = lmdsl.LM("openai/x")
    assert lm_option(given, "mine", "prompt_lm") is given and lm_option(None, "mine", "prompt_lm") is None
    with pytest.raises(ConfigError, match=r"^mine: prompt_lm: .*provider/model"):
        lm_option("no-provider", "mine", "prompt_lm")
