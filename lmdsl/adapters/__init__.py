"""Adapters turn (signature, demos, inputs) into messages and replies back into typed outputs."""

from lmdsl.adapters.base import Adapter
from lmdsl.adapters.chat import ChatAdapter
from lmdsl.adapters.default import current_adapter
from lmdsl.adapters.json_adapter import JSONAdapter

__all__ = ["Adapter", "ChatAdapter", "JSONAdapter", "current_adapter"]
