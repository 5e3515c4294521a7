"""Keep secrets out of spans: an LM's secret params, key-like environment variables and
strings shaped like common API keys are replaced before any text becomes an attribute."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
_SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
_KEY_SHAPES = re.compile(
    r"\bsk-[A-Za-z0-9_\-]{8,}"  # OpenAI / Anthropic style
    r"|\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{8,}"  # authorization headers
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bAIza[0-9A-Za-z_\-]{30,}"  # Google API keys
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|\bhf_[A-Za-z0-9]{20,}"  # Hugging Face tokens
)
_MIN_SECRET = 6  # shorter values would redact ordinary words


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def secrets_of(lm: Any) -> list[str]:
    """Secret strings to redact for a call of ``lm`` (None: the LM in effect): its secret params
    (api_key, headers, ...) and the values of environment variables whose names look secret."""
    from lmdsl import settings
    from lmdsl.lm.cache import SECRET_PARAMS

    if lm is None:
        lm = settings.get("lm")

    found: set[str] = set()
    kwargs = getattr(lm, "kwargs", None) or {}
    for name in SECRET_PARAMS:
        found.update(s for s in _strings(kwargs.get(name)) if len(s) >= _MIN_SECRET)
    for name, value in os.environ.items():
        if _SECRET_ENV.search(name) and len(value) >= _MIN_SECRET:
            found.add(value)
    return sorted(found, key=len, reverse=True)  # longest first: a key containing another is fully removed


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _KEY_SHAPES.sub(REDACTED, text)
