"""Every exception lmdsl raises on purpose derives from :class:`LmdslError`.

Each error says which thing was wrong (file, line, field, plugin) and what was expected,
so that the CLI can print it as one line.
"""

from __future__ import annotations

from typing import Any


class LmdslError(Exception):
    """Base class of lmdsl's own errors."""


class SignatureError(LmdslError, TypeError):
    """A signature definition is malformed (raised at decoration time)."""


class ConfigError(LmdslError):
    """Something is not configured (no LM, no retriever) or configured wrongly."""


class DataError(LmdslError, ValueError):
    """A data file or row is malformed; the message names the file and line."""


class LoadError(LmdslError):
    """A saved program cannot be loaded into this program; nothing was changed."""


class PluginError(LmdslError):
    """A plugin failed to import or register, or a registry lookup failed."""


class LMError(LmdslError):
    """The language model call failed (after retries)."""


class LocalModelNotInstalled(ConfigError):
    """The embedded local model was asked for but the `local` extra is missing."""


class ModelFileError(LMError):
    """A local model file is missing or not a valid GGUF."""


class ContextWindowExceeded(LMError):
    """The prompt does not fit the model's context window."""

    def __init__(self, message: str, *, prompt_tokens: int | None = None, context_size: int | None = None):
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.context_size = context_size


class ParseError(LmdslError, ValueError):
    """The LM's reply could not be parsed into the signature's outputs, even after re-asking.

    Carries the raw completion, the number of attempts and the token usage spent on them.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        completion: str = "",
        attempts: int = 1,
        usage: dict[str, int] | None = None,
    ):
        super().__init__(message)
        self.field = field
        self.completion = completion
        self.attempts = attempts
        self.usage = usage or {}


class ValueParseError(LmdslError, ValueError):
    """One field's text does not parse into its annotated type."""

    def __init__(self, message: str, *, field: str | None = None, text: str = "", expected: str = ""):
        super().__init__(message)
        self.field = field
        self.text = text
        self.expected = expected


class AssertionFailed(LmdslError):
    """An ``lmdsl.Assert`` still failed after all backtracking attempts."""

    def __init__(self, message: str, *, messages: list[str] | None = None, attempts: int = 0,
                 outputs: dict[str, Any] | None = None):
        super().__init__(message)
        self.messages = messages or [message]
        self.attempts = attempts
        self.outputs = outputs or {}


class ErrorBudgetExceeded(LmdslError):
    """Evaluation stopped because more examples raised than the error budget allows."""
