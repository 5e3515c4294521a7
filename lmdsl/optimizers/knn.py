"""`KNNFewShot`: each input gets the demos of its k nearest training examples.

Nearest by BM25 over the inputs' words by default, or by cosine similarity of embeddings
with ``vectorizer=`` (an :class:`lmdsl.Embedder`, a model name such as
``"local/all-minilm-l6-v2"``, or any object with ``embed(texts)``), which finds neighbours
that mean the same thing in other words.

Unlike DSPy, nothing is bootstrapped per query: with ``bootstrap=True`` the teacher runs
once over the trainset at compile time and each neighbour contributes its successful
trace; otherwise the neighbours' labeled rows are the demos.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmdsl.errors import UsageError
from lmdsl.optimizers.base import MetricFn, Optimizer, check_trainset
from lmdsl.primitives import Example
from lmdsl.program import Module
from lmdsl.program.demos import demos_override
from lmdsl.utils.usage import track_usage
from lmdsl.values import render_value


def _query_text(values: dict[str, Any], keys: Sequence[str]) -> str:
    return " ".join(render_value(values[k]) for k in keys if k in values)


class KNNProgram(Module):
    """Wraps the student: finds neighbours of each call's inputs and shows their demos."""

    def __init__(self, student: Module, index: Any, demo_sets: list[dict[str, list[Example]]], input_keys: list[str],
                 k: int):
        self.student = student
        self._index = index
        self._demo_sets = demo_sets
        self._input_keys = input_keys
        self._k = k

    def neighbours(self, **inputs: Any) -> list[int]:
        hits = self._index(_query_text(inputs, self._input_keys), self._k)
        return [int(p.id) for p in hits]

    def forward(self, **inputs: Any) -> Any:
        table: dict[int, list[Example]] = {}
        paths = dict(self.student.named_predictors())
        for i in self.neighbours(**inputs):
            for path, demos in self._demo_sets[i].items():
                table.setdefault(id(paths[path]), []).extend(demos)
        with demos_override(table):
            return self.student(**inputs)


class KNNFewShot(Optimizer):
    name = "knn"
    wraps_program = True

    def __init__(self, k: int = 3, trainset: Sequence[Example] | None = None, *, metric: MetricFn | None = None,
                 bootstrap: bool = False, num_threads: int | None = None, seed: int = 0, vectorizer: Any = None):
        super().__init__()
        self.k = k
        self.vectorizer = vectorizer
        self.trainset = list(trainset or [])
        self.metric = metric
        self.bootstrap = bootstrap
        self.num_threads = num_threads
        self.seed = seed

    def compile(self, program: Module, *, trainset: Sequence[Example] | None = None,
                valset: Sequence[Example] | None = None) -> KNNProgram:
        rows = check_trainset(trainset or self.trainset, self.name)
        if self.bootstrap and self.metric is None:
            raise UsageError("KNNFewShot(bootstrap=True) needs a metric")
        keys = sorted(rows[0].input_keys or ())
        student = program.reset_copy()
        paths = [p for p, _ in student.named_predictors()]
        demo_sets: list[dict[str, list[Example]]] = [{p: [row] for p in paths} for row in rows]
        start = self._start(len(rows) if self.bootstrap else 0, program)
        with track_usage() as usage:
            if self.bootstrap and self.metric is not None:  # (no metric was refused above)
                demo_sets = self._bootstrapped(program, rows, paths, self.metric)
        index = self._index([_query_text(r.to_dict(), keys) for r in rows])
        self._finish(start, usage)
        return KNNProgram(student, index, demo_sets, keys, self.k)

    def _index(self, texts: list[str]) -> Any:
        if self.vectorizer is None:
            from lmdsl.retrievers.bm25 import BM25Retriever

            return BM25Retriever([{"id": str(i), "text": t} for i, t in enumerate(texts)], k=self.k)
        from lmdsl.embeddings import DenseIndex, as_embedder

        return DenseIndex(as_embedder(self.vectorizer), texts, k=self.k)

    def _bootstrapped(self, program: Module, rows: list[Example], paths: list[str],
                      metric: MetricFn) -> list[dict[str, list[Example]]]:
        from lmdsl.optimizers.bootstrap import BootstrapFewShot

        sets: list[dict[str, list[Example]]] = []
        for row in rows:
            b = BootstrapFewShot(metric, max_bootstrapped_demos=1, max_labeled_demos=0,
                                 num_threads=self.num_threads, seed=self.seed)
            b.verbose = False
            demos, used = b.bootstrap(program.reset_copy(), program.reset_copy(), [row])
            sets.append(demos if used else {p: [row] for p in paths})
        return sets
