"""The plugin's exceptions, rooted in lmdsl's hierarchy so the CLI prints them as one line."""

from __future__ import annotations

from lmdsl.errors import ConfigError, DataError, ModelFileError


class DatasetError(DataError):
    """A training row is malformed; the message names the row, the message and the key."""


class BaseModelError(ConfigError):
    """The base model name does not resolve to a GGUF file or a Hugging Face model directory."""


class ModelIntegrityError(ModelFileError):
    """A tuned model file no longer has the sha256 recorded in its manifest."""
