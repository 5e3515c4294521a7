"""Signatures: what a task takes and what it produces."""

from __future__ import annotations

from typing import Any

from lmdsl.errors import SignatureError
from lmdsl.signatures.field import Field, InputField, OutputField
from lmdsl.signatures.history import History
from lmdsl.signatures.signature import Signature, _SignatureMeta
from lmdsl.signatures.string_form import parse_signature_string


def as_signature(obj: Any) -> Signature:
    """Accept every form a user may hand to a module: value, class, string, decorated or plain function."""
    if isinstance(obj, Signature):
        return obj
    if isinstance(obj, _SignatureMeta) and "_value" in obj.__dict__:
        return obj.__dict__["_value"]
    if isinstance(obj, str):
        return parse_signature_string(obj)
    sig = getattr(obj, "signature", None)
    if isinstance(sig, Signature):
        return sig
    if callable(obj):
        from lmdsl.signatures.function_form import signature_from_function

        return signature_from_function(obj)
    raise SignatureError(f"cannot make a signature from {obj!r}")


__all__ = ["Field", "History", "InputField", "OutputField", "Signature", "as_signature", "parse_signature_string"]
