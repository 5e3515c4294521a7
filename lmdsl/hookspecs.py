"""The hooks a plugin may implement. Built-ins implement the very same hooks.

Every ``register`` argument is a callable ``register(name, obj)`` that rejects a name
already taken, naming both plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("lmdsl")
hookimpl = pluggy.HookimplMarker("lmdsl")

Register = Callable[[str, Any], None]


@hookspec
def lmdsl_register_modules(register: Register) -> None:
    """Register module classes (``Predict``, ``ChainOfThought``...) by name."""


@hookspec
def lmdsl_register_retrievers(register: Register) -> None:
    """Register retriever factories: ``factory(**options) -> Retriever``."""


@hookspec
def lmdsl_register_optimizers(register: Register) -> None:
    """Register optimizer classes: ``cls(metric=..., **options)`` with ``.compile(program, trainset=, valset=)``."""


@hookspec(warn_on_impl=DeprecationWarning(
    "lmdsl_register_teleprompters is now lmdsl_register_optimizers; the old hook still registers optimizers "
    "until the next release"))
def lmdsl_register_teleprompters(register: Register) -> None:
    """The old name of :func:`lmdsl_register_optimizers`, kept for one release: what it registers are optimizers."""


@hookspec
def lmdsl_register_lms(register: Register) -> None:
    """Register LM providers: ``register(prefix, installer)``; ``installer()`` makes ``prefix/...`` models callable
    through litellm (typically by adding a ``CustomLLM`` to ``litellm.custom_provider_map``)."""


@hookspec
def lmdsl_register_metrics(register: Register) -> None:
    """Register metrics ``metric(example, prediction, trace=None) -> float | bool`` by name."""


@hookspec
def lmdsl_register_finetuners(register: Register) -> None:
    """Register finetuners: ``finetuner(dataset, base_model, **options) -> model name for lmdsl.LM``."""


@hookspec
def lmdsl_register_embedders(register: Register) -> None:
    """Register embedding backends: ``register(prefix, factory)``; ``lmdsl.Embedder("prefix/name", **options)``
    calls ``factory("name", **options)`` and uses the object's ``embed(texts) -> array``. Prefixes nobody
    registers go to litellm."""


@hookspec
def lmdsl_register_executors(register: Register) -> None:
    """Register executors: ``factory(**options) -> Executor`` (see :mod:`lmdsl.executors`), chosen by name with
    ``Evaluate(..., executor=NAME)``, ``lmdsl.configure(executor=NAME)`` or ``lmdsl evaluate|compile --executor NAME``."""
