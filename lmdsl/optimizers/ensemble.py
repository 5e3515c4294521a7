"""`Ensemble`: run several programs and reduce their outputs (majority vote by default)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from lmdsl.errors import UsageError
from lmdsl.optimizers.base import Optimizer, check_settings
from lmdsl.program import Module


class EnsembleProgram(Module):
    def __init__(self, programs: list[Any], reduce: Callable[[list[Any]], Any] | None, size: int | None, seed: int):
        self.programs = programs
        self._reduce = reduce
        self._size = size
        self._seed = seed

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        programs = self.programs
        if self._size is not None and self._size < len(programs):
            programs = random.Random(self._seed).sample(programs, self._size)
        outputs = [p(*args, **kwargs) for p in programs]
        return self._reduce(outputs) if self._reduce else outputs


class Ensemble(Optimizer):
    """``Ensemble(programs, reduce=majority).compile()`` or ``Ensemble(reduce=...).compile(programs)``."""

    name = "ensemble"
    wraps_program = True

    def __init__(self, programs: Sequence[Any] | None = None, *, reduce: Callable[[list[Any]], Any] | None = None,
                 size: int | None = None, seed: int = 0):
        super().__init__()
        check_settings(self.name, counts={"size": (size, 1)})
        if reduce is None:
            from lmdsl.predict.aggregation import majority

            reduce = majority
        self.programs = list(programs or [])
        self.reduce = reduce
        self.size = size
        self.seed = seed

    def compile(self, program: Any = None, *, trainset: Any = None, valset: Any = None) -> EnsembleProgram:
        programs = list(program) if isinstance(program, (list, tuple)) else ([program] if program else [])
        programs = programs or self.programs
        if not programs:
            raise UsageError("Ensemble: no programs to ensemble")
        return EnsembleProgram([p.deepcopy() for p in programs], self.reduce, self.size, self.seed)
