"""Optimizers (DSPy's "teleprompters"): all share ``compile(program, trainset=..., valset=None)``."""

from lmdsl.optimizers.base import Candidate, CompileReport, Optimizer, Teleprompter
from lmdsl.optimizers.bootstrap import BootstrapFewShot
from lmdsl.optimizers.calibrate import Calibrate
from lmdsl.optimizers.ensemble import Ensemble
from lmdsl.optimizers.finetune import BootstrapFinetune
from lmdsl.optimizers.knn import KNNFewShot
from lmdsl.optimizers.labeled import LabeledFewShot
from lmdsl.optimizers.pipeline import Pipeline
from lmdsl.optimizers.random_search import BootstrapFewShotWithRandomSearch

BootstrapRS = BootstrapFewShotWithRandomSearch

__all__ = [
    "BootstrapFewShot", "BootstrapFewShotWithRandomSearch", "BootstrapFinetune", "BootstrapRS", "Calibrate", "Candidate",
    "CompileReport", "Ensemble",
    "KNNFewShot", "LabeledFewShot", "Optimizer", "Pipeline", "Teleprompter",
]
