"""Turn Python values into prompt text and LM text back into annotated Python types."""

from lmdsl.values.describe import describe_type, is_closed_type, type_repr
from lmdsl.values.parse import parse_value
from lmdsl.values.render import render_value, to_jsonable

__all__ = ["describe_type", "is_closed_type", "parse_value", "render_value", "to_jsonable", "type_repr"]
