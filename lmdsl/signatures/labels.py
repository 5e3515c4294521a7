"""Signatures whose one output is a label: the ones a predictor can answer by scoring each label."""

from __future__ import annotations

from typing import Any

from lmdsl.signatures.field import Field
from lmdsl.signatures.signature import Signature
from lmdsl.values.introspect import label_choices
from lmdsl.values.render import render_output_value


def label_field(signature: Signature) -> Field | None:
    """The output field of a signature whose one output is a label (Literal, Enum, bool)."""
    outputs = list(signature.outputs.values())
    if len(outputs) == 1 and label_choices(outputs[0].type):
        return outputs[0]
    return None


def labels(field: Field) -> list[tuple[str, Any]]:
    """(rendered text, value) of every label a field allows, e.g. ``("yes", True)``."""
    return [(render_output_value(c), c) for c in label_choices(field.type) or []]
