"""What an adapter knows about valid replies, for LMs that can constrain decoding to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Constraint:
    """The valid replies to one call, in the forms an adapter can give."""

    name: str = "reply"
    grammar: str | None = None  # GBNF
    json_schema: Mapping[str, Any] | None = None
    choices: tuple[str, ...] | None = None  # every valid reply, whole

    def __bool__(self) -> bool:
        return bool(self.grammar or self.json_schema or self.choices)
