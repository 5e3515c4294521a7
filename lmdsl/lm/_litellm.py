"""The one place lmdsl imports litellm: lazily (2-5 s), offline, quiet."""

from __future__ import annotations

import os
from typing import Any

_TRANSIENT = ("RateLimitError", "Timeout", "APIConnectionError", "InternalServerError",
              "ServiceUnavailableError", "BadGatewayError")


def litellm() -> Any:
    """The litellm module, imported on first use.

    litellm fetches a cost map from the network at import unless told otherwise.
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm as module

    module.suppress_debug_info = True
    module.telemetry = False
    return module


def transient_errors() -> tuple[type[BaseException], ...]:
    """litellm's exception classes worth retrying with backoff."""
    module = litellm()
    return tuple(getattr(module, n) for n in _TRANSIENT if hasattr(module, n))
