"""Programs: modules composed like ``nn.Module``, traced for optimizers, saved as versioned JSON."""

from lmdsl.program.module import Module, asyncify, program
from lmdsl.program.predictor import Predictor
from lmdsl.program.trace import TraceEntry, current_trace, tracing

__all__ = ["Module", "Predictor", "TraceEntry", "asyncify", "current_trace", "program", "tracing"]
