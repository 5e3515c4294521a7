"""Data that flows through programs: examples, predictions, traces."""

from lmdsl.primitives.example import Example
from lmdsl.primitives.prediction import Completions, Prediction

__all__ = ["Completions", "Example", "Prediction"]
