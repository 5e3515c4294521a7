"""`Predictor`: the learnable leaf of a program, named here so that the program layer knows it.

Walking a program (``Module.named_predictors``), saving its state and the optimizers all work
on predictors: modules that hold a signature, demos and an LM and call the LM once per call.
``lmdsl.Predict`` is the one built-in predictor; every other built-in module is made of them.
The walk stops at a predictor: its attributes are its state, not sub-modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmdsl.program.module import Module

if TYPE_CHECKING:
    from lmdsl.adapters import Adapter
    from lmdsl.lm.protocol import LanguageModel
    from lmdsl.primitives import Example
    from lmdsl.signatures import Signature


class Predictor(Module):
    """Base of every predictor; declares the state optimizers read and write."""

    signature: Signature
    demos: list[Example]
    lm: LanguageModel | None  # None: the configured default LM
    adapter: Adapter | None  # None: the configured adapter
    config: dict[str, Any]  # generation settings for each call (temperature=, n=, ...)
    label_bias: dict[str, float] | None  # per-label score offsets (Calibrate); None: generate

    def reset(self) -> None:
        """Forget the learned state (demos, label biases)."""
        raise NotImplementedError
