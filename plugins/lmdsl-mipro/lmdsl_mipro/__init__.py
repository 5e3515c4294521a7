"""MIPROv2 for lmdsl: instructions and demo sets per predictor, searched jointly with TPE."""

from lmdsl_mipro.mipro import MIPROv2

__all__ = ["MIPROv2"]
