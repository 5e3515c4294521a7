"""`ChainOfThought`: a Predict whose signature first asks for a short ``reasoning``."""

from __future__ import annotations

from typing import Any

from lmdsl.predict.predict import Predict
from lmdsl.signatures import as_signature

REASONING_DESC = "think step by step, briefly"


class ChainOfThought(Predict):
    """Adds a ``reasoning`` output before the signature's outputs."""

    def __init__(self, signature: Any, *, rationale_field: str = "reasoning", rationale_desc: str = REASONING_DESC,
                 **kwargs: Any):
        base = as_signature(signature)
        self.base_signature = base
        super().__init__(base.prepend_output(rationale_field, str, rationale_desc), **kwargs)
