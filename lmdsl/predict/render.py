"""``lmdsl.render``: the exact messages a signature call would send, without calling the LM."""

from __future__ import annotations

from typing import Any

from lmdsl.predict.predict import Predict


def render(signature: Any, *, demos: list[Any] | None = None, **inputs: Any) -> list[dict[str, str]]:
    predictor = Predict(signature)
    predictor.demos = list(demos or [])
    return predictor.render(**inputs)
