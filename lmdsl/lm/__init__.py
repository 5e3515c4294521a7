"""Language models: litellm for every provider, the embedded model as a custom provider."""

from lmdsl.lm.history import inspect_history
from lmdsl.lm.lm import LM, Completion
from lmdsl.utils.usage import track_usage

__all__ = ["LM", "Completion", "inspect_history", "track_usage"]
