"""`Predictor`: the program layer's name for a learnable leaf (Predict is one)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from lmdsl import ChainOfThought, Module, Predict
from lmdsl.program import Predictor


def test_predict_is_a_predictor() -> None:
    assert issubclass(Predict, Predictor)
    assert all(isinstance(p, Predictor) for p in ChainOfThought("q -> a").predictors())


class _Leaf(Predictor):
    """A predictor that is not a Predict: the walk must find it and not look inside it."""

    def __init__(self) -> None:
        self.inner = Predict("q -> a")  # state of the leaf, not a sub-module to optimize
        self.demos = []

    def reset(self) -> None:
        self.demos = []


class _Pipeline(Module):
    def __init__(self) -> None:
        self.first = Predict("q -> a")
        self.leaf = _Leaf()


def test_walk_finds_any_predictor_and_stops_at_it() -> None:
    program = _Pipeline()
    assert [path for path, _ in program.named_predictors()] == ["first", "leaf"]
    assert program.leaf.named_predictors() == [("self", program.leaf)]
    copy = program.reset_copy()
    assert copy.leaf is not program.leaf and copy.leaf.demos == []


def test_module_does_not_import_the_predict_layer() -> None:
    source = importlib.util.find_spec("lmdsl.program.module").origin
    tree = ast.parse(Path(source).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and m.startswith("lmdsl.predict")}
