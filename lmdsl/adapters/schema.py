"""The JSON schema of a signature's outputs, for providers that constrain replies to a schema.

pydantic builds it from the output types (str, numbers, bool, Literal, Enum, lists, dicts,
NamedTuple, TypedDict, dataclasses, pydantic models); it is then made *strict* in OpenAI's sense
(every object closed and every property required), which every provider that takes a schema accepts.
"""

from __future__ import annotations

import functools
from typing import Any

from lmdsl.signatures import Signature


@functools.lru_cache(maxsize=256)
def output_schema(signature: Signature) -> dict[str, Any] | None:
    """The schema of the reply object, or None if an output type has no JSON schema."""
    import pydantic

    fields = {name: (field.type, ...) for name, field in signature.outputs.items()}
    try:
        model = pydantic.create_model("Reply", **fields)  # type: ignore[call-overload]  # field specs built at run time
        schema = model.model_json_schema()
    except (pydantic.PydanticUserError, pydantic.PydanticSchemaGenerationError, TypeError):
        return None
    return _strict(schema)


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _strict(v) for k, v in node.items() if k not in ("title", "default")}
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
        return node
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node
