"""Optimizers ("teleprompters"): all share ``compile(program, trainset=..., valset=None)``."""

from lmdsl.teleprompt.base import Candidate, CompileReport, Teleprompter
from lmdsl.teleprompt.bootstrap import BootstrapFewShot
from lmdsl.teleprompt.calibrate import Calibrate
from lmdsl.teleprompt.ensemble import Ensemble
from lmdsl.teleprompt.finetune import BootstrapFinetune
from lmdsl.teleprompt.knn import KNNFewShot
from lmdsl.teleprompt.labeled import LabeledFewShot
from lmdsl.teleprompt.pipeline import Pipeline
from lmdsl.teleprompt.random_search import BootstrapFewShotWithRandomSearch

BootstrapRS = BootstrapFewShotWithRandomSearch

__all__ = [
    "BootstrapFewShot", "BootstrapFewShotWithRandomSearch", "BootstrapFinetune", "BootstrapRS", "Calibrate", "Candidate",
    "CompileReport", "Ensemble",
    "KNNFewShot", "LabeledFewShot", "Pipeline", "Teleprompter",
]
