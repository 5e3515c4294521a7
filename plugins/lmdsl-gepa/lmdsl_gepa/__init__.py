"""GEPA for lmdsl: reflective prompt evolution with a Pareto frontier of candidates."""

from lmdsl_gepa.gepa import GEPA

__all__ = ["GEPA"]
