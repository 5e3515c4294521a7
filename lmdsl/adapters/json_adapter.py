"""JSON replies: one object whose keys are the output fields."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lmdsl.adapters.base import Adapter, missing_fields_error
from lmdsl.errors import ValueParseError
from lmdsl.signatures import Signature
from lmdsl.values import describe_type, parse_value
from lmdsl.values.parse import extract_json
from lmdsl.values.render import to_jsonable


class JSONAdapter(Adapter):
    """Replies as one JSON object. With a provider that takes a JSON schema (``constrain=
    "json_schema"``, ``"ollama"``, ``"vllm"``, or llama.cpp's servers) replies are constrained to the
    schema of the outputs, so every reply parses."""

    name = "json"
    json_replies = True

    def format_instructions(self, signature: Signature) -> str:
        return "Reply with one JSON object and nothing else, like this:\n" + self.template(signature)

    def template(self, signature: Signature) -> str:
        shape = {f.name: f"<{describe_type(f.type) or 'text'}>" for f in signature.outputs.values()}
        return json.dumps(shape, ensure_ascii=False)

    def render_reply(self, signature: Signature | None, outputs: Mapping[str, Any]) -> str:
        return json.dumps(to_jsonable(dict(outputs)), ensure_ascii=False)

    def parse(self, signature: Signature, text: str) -> dict[str, Any]:
        try:
            data = extract_json(text)
        except ValueError as exc:
            raise ValueParseError(f"reply is not a JSON object ({exc})", text=text) from None
        if not isinstance(data, dict):
            raise ValueParseError(f"reply is JSON but not an object: {text[:200]!r}", text=text)
        missing = [n for n in signature.outputs if n not in data]
        if missing:
            raise missing_fields_error(signature, missing, text)
        values = {}
        for name, field in signature.outputs.items():
            raw = data[name]
            if isinstance(raw, str):
                values[name] = parse_value(raw, field.type, name)
            else:
                values[name] = parse_value(json.dumps(raw), field.type, name) if field.type is not str else str(raw)
        return values
