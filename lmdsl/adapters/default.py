"""The adapter in effect: the one given (a predictor's own), else the configured one, else ChatAdapter."""

from __future__ import annotations

from lmdsl import settings
from lmdsl.adapters.base import Adapter
from lmdsl.adapters.chat import ChatAdapter

_CHAT = ChatAdapter()  # adapters keep no state between calls: one instance serves everyone


def current_adapter(adapter: Adapter | None = None) -> Adapter:
    """``adapter``, else ``settings.get("adapter")``, else the default :class:`ChatAdapter`."""
    return adapter or settings.get("adapter") or _CHAT
