"""`Module`: the base of every program; ``@program`` makes a plain class one."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import inspect
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lmdsl import callbacks
from lmdsl.errors import EventLoopError, UsageTypeError
from lmdsl.program import backtracking, lm_usage
from lmdsl.telemetry.spans import traced_call

if TYPE_CHECKING:
    from lmdsl.lm.protocol import LanguageModel
    from lmdsl.program.predictor import Predictor

T = TypeVar("T")
M = TypeVar("M", bound="Module")


class Module:
    """A composable unit. Subclasses define ``forward``; calling the module runs it.

    Learnable parts are the predictors found by walking attributes, lists and dicts.
    """

    # A program call is an assertion scope: the outermost one re-runs forward when an
    # lmdsl.Assert / lmdsl.Suggest fails (lmdsl/program/backtracking/). Predict has no
    # checks inside its forward, so it skips this.
    _assertion_scope = True

    @traced_call  # a span per program / module / predictor call when tracing is on
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with _observed(self, args, kwargs) as out:
            out.value = self._run(args, kwargs)
        return out.value

    def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not self._assertion_scope:
            return self.forward(*args, **kwargs)
        return backtracking.call(self, self.forward, args, kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        aforward = _own_aforward(self)
        if aforward is not None:
            # A program written async-only still runs from sync code (not inside a running loop).
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(aforward(*args, **kwargs))
            raise EventLoopError(f"{type(self).__name__} defines only aforward(): inside an event loop, "
                               f"use `await program.acall(...)`")
        raise NotImplementedError(f"{type(self).__name__} must define forward() or async aforward()")

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        """Run the module from async code: ``await program.acall(question=...)``.

        Drives ``aforward`` when the module has one (every built-in module does, calling the LM
        through ``LM.acall`` with no thread per call); a module with only a sync ``forward`` runs
        it in a worker thread, in a copy of this task's context.
        """
        aforward = _own_aforward(self)
        with _observed(self, args, kwargs) as out:
            if aforward is None:
                ctx = contextvars.copy_context()
                out.value = await asyncio.to_thread(ctx.run, self._run, args, kwargs)
            elif not self._assertion_scope:
                out.value = await aforward(*args, **kwargs)
            else:
                out.value = await backtracking.acall(self, aforward, args, kwargs)
        return out.value

    # ---- structure --------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield from _walk(self, prefix, set(), predictors_only=False)

    def named_predictors(self) -> list[tuple[str, Predictor]]:
        """(path, predictor) for every predictor, in attribute order: ``generate.predict``."""
        from lmdsl.program.predictor import Predictor  # a subclass of Module: imported when used

        if isinstance(self, Predictor):
            return [("self", self)]
        return [(p, m) for p, m in _walk(self, "", set(), predictors_only=True) if isinstance(m, Predictor)]

    def predictors(self) -> list[Predictor]:
        return [p for _, p in self.named_predictors()]

    def deepcopy(self: T) -> T:
        return copy.deepcopy(self)

    def reset_copy(self: M) -> M:
        """A deep copy with every predictor's demos cleared."""
        new = copy.deepcopy(self)
        for p in new.predictors():
            p.reset()
        return new

    def set_lm(self, lm: LanguageModel | None) -> None:
        for p in self.predictors():
            p.lm = lm

    def batch(self, examples: Any, *, executor: Any = None, num_threads: int | None = None,
              return_failed_examples: bool = False) -> Any:
        """Run the program on many inputs (Examples with inputs marked, or dicts of inputs) with the
        machinery Evaluate uses: ``executor="threads"|"ray"|object`` (default: the ``executor`` setting).

        Returns a :class:`~lmdsl.executors.batch.BatchResult`: the predictions in input order
        (None where a row raised) with ``.errors`` ``{index: one-line error}``. With
        ``return_failed_examples=True`` (DSPy's form): ``(predictions, failed examples, errors)``.
        """
        # Executors sit above programs; the import is deferred like save/load's.
        from lmdsl.executors.batch import run_batch

        result = run_batch(self, examples, executor=executor, num_threads=num_threads)
        if return_failed_examples:
            return result, [result.examples[i] for i in result.errors], list(result.errors.values())
        return result

    # ---- persistence ------------------------------------------------------------------
    def save(self, path: str | Path, *, target: str | None = None, metadata: dict[str, Any] | None = None) -> Path:
        from lmdsl.program.state import save_program

        return save_program(self, path, target=target, metadata=metadata)

    def load(self: M, path: str | Path, *, trust_file: bool = False) -> M:
        """Load a compiled file's state (all or nothing). Its ``lm`` entries may set only a model
        name and generation settings; ``trust_file=True`` also accepts endpoints and credentials."""
        from lmdsl.program.state import load_program

        load_program(self, path, trust_file=trust_file)
        return self

    def dump_state(self) -> dict[str, Any]:
        """The learned state (instructions, demos, LM names) as a JSON-able dict: what ``save`` writes."""
        from lmdsl.program.state import program_state

        return program_state(self)

    def load_state(self: M, state: dict[str, Any], *, trust_file: bool = False) -> M:
        """Apply a :meth:`dump_state` dict, checked like a file: all or nothing."""
        from lmdsl.program.state import apply_state, check_state

        apply_state(self, check_state(state, "state"), "state", trust_file=trust_file)
        return self

    def __repr__(self) -> str:
        preds = ", ".join(f"{p}={type(m).__name__}" for p, m in self.named_predictors())
        return f"{type(self).__name__}({preds})"


@contextlib.contextmanager
def _observed(module: Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[Any]:
    """Callbacks and per-program usage around one module call."""
    with lm_usage.collecting() as collector:
        inputs = _inputs(module, args, kwargs) if callbacks.active() else {}
        with callbacks.watching("module", module, inputs) as out:
            yield out
        lm_usage.attach(out.value, collector)


def _inputs(module: Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    if not args:
        return dict(kwargs)
    try:
        return dict(inspect.signature(module.forward).bind_partial(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        return {"args": args, **kwargs}


def _own_aforward(module: Module) -> Callable[..., Coroutine[Any, Any, Any]] | None:
    """The module's ``aforward``, if its class (or a base other than Module) defines one."""
    return getattr(module, "aforward", None)


def _walk(obj: Any, prefix: str, seen: set[int], predictors_only: bool) -> Iterator[tuple[str, Module]]:
    from lmdsl.program.predictor import Predictor

    for name, value in vars(obj).items():
        if name.startswith("_"):
            continue
        yield from _walk_value(value, f"{prefix}{name}", seen, predictors_only, Predictor)


def _walk_value(value: Any, path: str, seen: set[int], predictors_only: bool,
                predict_cls: type) -> Iterator[tuple[str, Module]]:
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


def asyncify(program: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """DSPy's ``asyncify``: an async callable running ``program``. A module runs natively
    (``acall``); any other callable runs in a worker thread, in a copy of the caller's context."""
    if isinstance(program, Module):
        return program.acall

    async def run(*args: Any, **kwargs: Any) -> Any:
        ctx = contextvars.copy_context()
        return await asyncio.to_thread(ctx.run, program, *args, **kwargs)

    return run


def program(cls: type[T]) -> type[T]:
    """Make a plain class with ``__init__`` and ``forward`` a Module (calling it runs ``forward``)."""
    if not isinstance(cls, type):
        raise UsageTypeError("@program decorates a class")
    if not callable(getattr(cls, "forward", None)) and not inspect.iscoroutinefunction(getattr(cls, "aforward", None)):
        raise UsageTypeError(f"@program {cls.__name__}: the class needs a forward() or an async aforward() method")
    if issubclass(cls, Module):
        return cls
    new = type(cls.__name__, (cls, Module), {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                               "__doc__": cls.__doc__})
    return new
