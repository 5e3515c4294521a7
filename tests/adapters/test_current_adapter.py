"""One rule for which adapter a call uses: its own, else the configured one, else ChatAdapter."""

from __future__ import annotations

import lmdsl
from lmdsl.adapters import ChatAdapter, JSONAdapter, current_adapter


def test_own_then_configured_then_chat():
    assert type(current_adapter()) is ChatAdapter
    configured = JSONAdapter()
    with lmdsl.context(adapter=configured):
        assert current_adapter() is configured
        own = ChatAdapter()
        assert current_adapter(own) is own
