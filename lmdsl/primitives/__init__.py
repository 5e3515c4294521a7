"""Data that flows through programs: examples, predictions, traces."""

from lmdsl.primitives.example import Example
from lmdsl.primitives.prediction import Prediction

__all__ = ["Example", "Prediction"]
