"""Render input values into prompt text: lists numbered, structured values as JSON."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Plain JSON data for a value: pydantic models, dataclasses, NamedTuples, enums, Examples and
    Predictions become dicts / lists / scalars (recursively); anything else is returned as is."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: to_jsonable(v) for k, v in value._asdict().items()}
    if isinstance(value, enum.Enum):
        return value.value
    if callable(getattr(value, "to_dict", None)) and not isinstance(value, type):
        return to_jsonable(value.to_dict())  # an Example / Prediction passed on as an input (DSPy code does)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return value


def render_value(value: Any) -> str:
    """Text for one field value.

    Lists of plain items become numbered lines (``[1] ...``) because small models follow
    numbered passages better than a JSON array; anything structured becomes compact JSON.
    """
    if value is None:
        return "None"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)) and not hasattr(value, "_asdict"):
        if all(isinstance(v, (str, int, float)) for v in value):
            return "\n".join(f"[{i}] {v}" for i, v in enumerate(value, 1)) if value else "(none)"
        return json.dumps(to_jsonable(value), ensure_ascii=False)
    if hasattr(value, "long_text"):
        return str(value.long_text)
    return json.dumps(to_jsonable(value), ensure_ascii=False)


def render_output_value(value: Any) -> str:
    """Text a model should write for an output value (lists as JSON, so they parse back)."""
    if isinstance(value, (list, tuple, set)) and not hasattr(value, "_asdict"):
        return json.dumps(to_jsonable(list(value)), ensure_ascii=False)
    return render_value(value)
