"""Keep secrets out of spans, with the same rules as every other text lmdsl writes (lmdsl.utils.secrets):
an LM's credential params, key-like environment variables and strings shaped like common API keys."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from lmdsl.utils import secrets as _secrets

if TYPE_CHECKING:
    from lmdsl.lm.protocol import LanguageModel

REDACTED = _secrets.REDACTED


def secrets_of(lm: LanguageModel | None) -> list[str]:
    """Secret strings to redact for a call of ``lm`` (None: the LM in effect)."""
    from lmdsl import settings

    if lm is None:
        lm = settings.get("lm")
    return _secrets.secret_values(getattr(lm, "kwargs", None) or {})


def scrub(text: str, secrets: Iterable[str]) -> str:
    return _secrets.scrub(text, secrets=secrets)
