"""Every exception lmdsl raises on purpose derives from :class:`LmdslError`.

Each error says which thing was wrong (file, line, field, plugin) and what was expected,
so that the CLI can print it as one line. An error that replaced a builtin exception also
derives from that builtin (``UsageError`` is a ``ValueError``), so ``except ValueError``
written against earlier releases keeps working. Left as builtins, on purpose: Python's own
protocols (``NotImplementedError`` in an abstract method, ``AttributeError`` in
``__getattr__``/``__setattr__``); ``tests/test_error_policy.py`` keeps this true.
"""

from __future__ import annotations

from typing import Any


class LmdslError(Exception):
    """Base class of lmdsl's own errors."""


class SignatureError(LmdslError, TypeError):
    """A signature definition is malformed (raised at decoration time)."""


class ConfigError(LmdslError):
    """Something is not configured (no LM, no retriever) or configured wrongly."""


class UsageError(LmdslError, ValueError):
    """A function or class was given an argument value it cannot accept (out of range, empty,
    missing its companion); raised at the call, before any work or LM call."""


class UsageTypeError(LmdslError, TypeError):
    """A function or class was given an argument of the wrong kind, or a keyword it does not
    take; raised at the call, before any work or LM call."""


class NotFoundError(LmdslError, KeyError):
    """Something asked for by name is not there: an Example field (``with_inputs``), a program
    on a Ray replica."""

    def __str__(self) -> str:  # the message as written, not KeyError's repr of it
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class EventLoopError(LmdslError, RuntimeError):
    """A synchronous call (``program(...)``, ``Evaluate(...)``, an async tool) was made inside a
    running event loop, where it cannot wait; the message names the ``await ....acall`` to use."""


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


class EmbeddingsNotInstalled(ConfigError):
    """The offline embedder was asked for but the ``embeddings`` extra is missing."""


class ModelFileError(LMError):
    """A local model file is missing or not a valid GGUF."""


class ServerError(LMError, RuntimeError):
    """A model server started by lmdsl's test helpers (:mod:`lmdsl.testing_llama`) exited or
    did not answer in time."""


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
    """More runs raised than the error budget (``max_errors``) allows, so the pass stopped:
    an evaluation's examples, or an optimizer's teacher runs."""


class OptimizationFailed(LmdslError):
    """An optimizer ran but produced nothing to build on (e.g. no teacher run passed the metric,
    so there is nothing to fine-tune on)."""


class ExecutorError(LmdslError):
    """A run on an executor's workers failed at run time: its replicas did not start within the
    start timeout, all of them died, or one raised an error that is not lmdsl's own (the message
    names the cause in one line). Settings no cluster could satisfy are a :class:`ConfigError`."""


class MetricError(LmdslError):
    """The metric raised: a bug in the metric, not a failure of the program, so evaluation stops."""


class ProgramOfThoughtError(LmdslError, RuntimeError):
    """No generated code ran successfully within ``max_iters`` attempts."""

    def __init__(self, message: str, *, code: str = "", error: str = "", attempts: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.error = error
        self.attempts = attempts or []


class ToolArgumentError(LmdslError, ValueError):
    """Arguments proposed for a tool do not match its parameters."""

    def __init__(self, message: str, *, tool: str = "", argument: str | None = None):
        super().__init__(message)
        self.tool = tool
        self.argument = argument
