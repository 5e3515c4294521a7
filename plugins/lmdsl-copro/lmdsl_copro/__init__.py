"""COPRO for lmdsl: coordinate ascent over each predictor's instructions."""

from lmdsl_copro.copro import COPRO

__all__ = ["COPRO"]
