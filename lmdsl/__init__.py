"""lmdsl: program language models, don't prompt them.

Importing lmdsl is cheap: litellm, llama.cpp, bm25s and plugins load on first use.
"""

from __future__ import annotations

from typing import Any

from lmdsl import plugins as _plugins  # noqa: F401  (wires LM provider discovery; scans nothing)
from lmdsl.adapters import Adapter, ChatAdapter, JSONAdapter
from lmdsl.errors import (
    AssertionFailed,
    ConfigError,
    ContextWindowExceeded,
    DataError,
    EmbeddingsNotInstalled,
    ErrorBudgetExceeded,
    EventLoopError,
    ExecutorError,
    LmdslError,
    LMError,
    LoadError,
    LocalModelNotInstalled,
    MetricError,
    ModelFileError,
    NotFoundError,
    OptimizationFailed,
    ParseError,
    PluginError,
    ProgramOfThoughtError,
    ServerError,
    SignatureError,
    ToolArgumentError,
    UsageError,
    UsageTypeError,
    ValueParseError,
)
from lmdsl.hookspecs import hookimpl
from lmdsl.lm import LM, inspect_history, track_usage
from lmdsl.predict import ChainOfThought, Predict, TypedFunction, signature
from lmdsl.primitives import Example, Prediction
from lmdsl.program import Module, asyncify, program, tracing
from lmdsl.settings import configure, context
from lmdsl.signatures import Field, History, InputField, OutputField, Signature

__version__ = "0.1.0"

# Heavier or optional parts load on first attribute access.
_LAZY = {
    "Evaluate": "lmdsl.evaluate",
    "EvaluationResult": "lmdsl.evaluate",
    "Feedback": "lmdsl.evaluate.feedback",
    "Retrieve": "lmdsl.predict.retrieve",
    "ReAct": "lmdsl.predict.react",
    "ProgramOfThought": "lmdsl.predict.program_of_thought",
    "MultiChainComparison": "lmdsl.predict.multi_chain_comparison",
    "majority": "lmdsl.predict.aggregation",
    "BestOfN": "lmdsl.predict.refine",
    "Refine": "lmdsl.predict.refine",
    "Assert": "lmdsl.assertions",
    "Suggest": "lmdsl.assertions",
    "Sandbox": "lmdsl.sandbox",
    "Passage": "lmdsl.retrievers",
    "Embedder": "lmdsl.embeddings",
    "RayExecutor": "lmdsl.executors",
    "ThreadsExecutor": "lmdsl.executors",
    "get_optimizer": "lmdsl.plugins",
    "get_teleprompter": "lmdsl.plugins",
    "get_retriever": "lmdsl.plugins",
    "get_module": "lmdsl.plugins",
    "get_metric": "lmdsl.plugins",
    "get_finetuner": "lmdsl.plugins",
    "plugin_manager": "lmdsl.plugins",
    "render": "lmdsl.predict.render",
    "Tool": "lmdsl.predict.tools",
    "stream": "lmdsl.predict.streaming",
    "StreamChunk": "lmdsl.predict.streaming",
    "Completions": "lmdsl.primitives",
    "Callback": "lmdsl.callbacks",
    "BaseCallback": "lmdsl.callbacks",
    # optimizers and metrics, importable from the top level as DSPy's are
    **{name: "lmdsl.optimizers" for name in (
        "LabeledFewShot", "BootstrapFewShot", "BootstrapFewShotWithRandomSearch", "BootstrapRS", "KNNFewShot",
        "Ensemble", "Calibrate", "BootstrapFinetune", "Optimizer", "Teleprompter")},
    **{name: "lmdsl.evaluate" for name in (
        "exact_match", "f1", "answer_exact_match", "answer_in_passages", "normalize_text")},
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lmdsl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "LM", "Adapter", "AssertionFailed", "ChainOfThought", "ChatAdapter", "ConfigError", "ContextWindowExceeded",
    "DataError", "EmbeddingsNotInstalled", "ErrorBudgetExceeded", "EventLoopError", "ExecutorError", "Example", "Field", "History",
    "InputField", "JSONAdapter", "LMError", "LmdslError", "LoadError", "LocalModelNotInstalled", "MetricError",
    "ModelFileError", "Module", "NotFoundError", "OptimizationFailed", "OutputField", "ParseError", "PluginError",
    "Predict", "Prediction", "ProgramOfThoughtError", "ServerError", "Signature", "SignatureError",
    "ToolArgumentError", "TypedFunction", "UsageError", "UsageTypeError", "ValueParseError", "__version__", "asyncify", "configure", "context", "hookimpl", "inspect_history", "program", "signature",
    "track_usage", "tracing", *_LAZY,
]
