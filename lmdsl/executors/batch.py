"""``program.batch(inputs)``: a program over many inputs, predictions in order, errors per row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lmdsl.errors import ConfigError
from lmdsl.executors.base import Executor, Job, Outcome, Runnable
from lmdsl.executors.select import run_program
from lmdsl.primitives import Example


class BatchResult(list):
    """The predictions, in input order; ``None`` where the row raised, and ``errors[index]`` says why."""

    def __init__(self, predictions: Iterable[Any] = (), errors: dict[int, str] | None = None,
                 examples: list[Example] | None = None):
        super().__init__(predictions)
        self.errors: dict[int, str] = dict(errors or {})
        self.examples: list[Example] = list(examples or [])  # the inputs, as Examples


def run_batch(program: Runnable, inputs: Iterable[Any], *, executor: str | Executor | None = None,
              num_threads: int | None = None) -> BatchResult:
    examples = [_as_example(row, i) for i, row in enumerate(inputs)]
    outcomes: list[Outcome] = run_program(program, examples, Job(), num_threads=num_threads, executor=executor)
    return BatchResult((o.prediction if o.error is None else None for o in outcomes),
                       {i: o.error for i, o in enumerate(outcomes) if o.error is not None}, examples)


def _as_example(row: Any, index: int) -> Example:
    if isinstance(row, Example):
        if row.input_keys is None:
            raise ConfigError(f"batch: row {index} is an Example without inputs marked (.with_inputs(...))")
        return row
    if isinstance(row, Mapping):
        return Example(dict(row)).with_inputs(*row)
    raise ConfigError(f"batch: row {index} must be an Example or a dict of inputs, got {type(row).__name__}")
