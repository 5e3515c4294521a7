"""`Module`: the base of every program; ``@program`` makes a plain class one."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from lmdsl.program import backtracking
from lmdsl.telemetry.spans import traced_call

T = TypeVar("T")


class Module:
    """A composable unit. Subclasses define ``forward``; calling the module runs it.

    Learnable parts are the predictors found by walking attributes, lists and dicts.
    """

    # A program call is an assertion scope: the outermost one re-runs forward when an
    # lmdsl.Assert / lmdsl.Suggest fails (lmdsl/program/backtracking.py). Predict has no
    # checks inside its forward, so it skips this.
    _assertion_scope = True

    @traced_call  # a span per program / module / predictor call when tracing is on
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._assertion_scope:
            return self.forward(*args, **kwargs)
        return backtracking.call(self, self.forward, args, kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        aforward = getattr(self, "aforward", None)
        if aforward is not None:
            return await backtracking.acall(self, aforward, args, kwargs)
        import contextvars

        ctx = contextvars.copy_context()
        return await asyncio.to_thread(ctx.run, self.__call__, *args, **kwargs)

    # ---- structure --------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield from _walk(self, prefix, set(), predictors_only=False)

    def named_predictors(self) -> list[tuple[str, Any]]:
        """(path, predictor) for every predictor, in attribute order: ``generate.predict``."""
        from lmdsl.predict.predict import Predict

        if isinstance(self, Predict):
            return [("self", self)]
        return [(p, m) for p, m in _walk(self, "", set(), predictors_only=True) if isinstance(m, Predict)]

    def predictors(self) -> list[Any]:
        return [p for _, p in self.named_predictors()]

    def deepcopy(self: T) -> T:
        return copy.deepcopy(self)

    def reset_copy(self: T) -> T:
        """A deep copy with every predictor's demos cleared."""
        new = copy.deepcopy(self)
        for p in new.predictors():  # type: ignore[attr-defined]
            p.reset()
        return new

    def set_lm(self, lm: Any) -> None:
        for p in self.predictors():
            p.lm = lm

    # ---- persistence ------------------------------------------------------------------
    def save(self, path: str | Path, *, target: str | None = None, metadata: dict[str, Any] | None = None) -> Path:
        from lmdsl.program.state import save_program

        return save_program(self, path, target=target, metadata=metadata)

    def load(self: T, path: str | Path) -> T:
        from lmdsl.program.state import load_program

        load_program(self, path)  # type: ignore[arg-type]
        return self

    def __repr__(self) -> str:
        preds = ", ".join(f"{p}={type(m).__name__}" for p, m in self.named_predictors())
        return f"{type(self).__name__}({preds})"


def _walk(obj: Any, prefix: str, seen: set[int], predictors_only: bool) -> Iterator[tuple[str, Module]]:
    from lmdsl.predict.predict import Predict

    for name, value in vars(obj).items():
        if name.startswith("_"):
            continue
        yield from _walk_value(value, f"{prefix}{name}", seen, predictors_only, Predict)


def _walk_value(value: Any, path: str, seen: set[int], predictors_only: bool, predict_cls: type):
    if isinstance(value, Module):
        if id(value) in seen:
            return
        seen.add(id(value))
        yield path, value
        if not isinstance(value, predict_cls):
            yield from _walk(value, path + ".", seen, predictors_only)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk_value(item, f"{path}[{i}]", seen, predictors_only, predict_cls)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_value(item, f"{path}[{key!r}]", seen, predictors_only, predict_cls)


def program(cls: type[T]) -> type[T]:
    """Make a plain class with ``__init__`` and ``forward`` a Module (calling it runs ``forward``)."""
    if not isinstance(cls, type):
        raise TypeError("@program decorates a class")
    if not callable(getattr(cls, "forward", None)):
        raise TypeError(f"@program {cls.__name__}: the class needs a forward() method")
    if issubclass(cls, Module):
        return cls
    new = type(cls.__name__, (cls, Module), {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                               "__doc__": cls.__doc__})
    return new  # type: ignore[return-value]
