"""What the current LM call is for (signature, inputs, adapter), for test doubles that answer by field.

Set by predictors around each LM call; never part of the cache key or the request.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CallInfo:
    signature: Any
    inputs: dict[str, Any]
    adapter: Any


current_call: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar("lmdsl_call", default=None)
