"""Resolve ``pkg.module:attr`` and ``path/to/file.py:attr`` into programs, metrics and modules."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from lmdsl.program import Module

_loaded_files: dict[str, ModuleType] = {}


def split_target(target: str) -> tuple[str, str | None]:
    if ":" in target and not (len(target) > 1 and target[1] == ":" and target[0].isalpha() and "\\" in target):
        module, _, attr = target.rpartition(":")
        return module, attr or None
    return target, None


def load_module(ref: str) -> ModuleType:
    """Import ``pkg.module`` or execute ``path/file.py`` (its folder goes on sys.path for sibling imports)."""
    if ref.endswith(".py") or "/" in ref or "\\" in ref:
        path = Path(ref).expanduser().resolve()
        if not path.is_file():
            raise click.UsageError(f"file not found: {ref}")
        key = str(path)
        if key in _loaded_files:
            return _loaded_files[key]
        name = f"lmdsl_user_{path.stem}_{abs(hash(key)) % 10**8}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise click.UsageError(f"cannot import {ref}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        spec.loader.exec_module(module)
        _loaded_files[key] = module
        return module
    try:
        return importlib.import_module(ref)
    except ModuleNotFoundError as exc:
        if exc.name and ref.startswith(exc.name):
            raise click.UsageError(f"no module named {ref!r} (use pkg.module:attr or path/to/file.py:attr)") from None
        raise


def resolve_attr(target: str, what: str = "object") -> tuple[ModuleType, Any]:
    module_ref, attr = split_target(target)
    module = load_module(module_ref)
    if attr is None:
        raise click.UsageError(f"{target}: say which {what} with ':name' (e.g. {module_ref}:{_guess(module)})")
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise click.UsageError(f"{target}: no attribute {attr!r} in {module_ref}; programs there: {_guess(module)}")
        obj = getattr(obj, part)
    return module, obj


def _guess(module: ModuleType) -> str:
    from lmdsl.program import Module

    names = [n for n, v in vars(module).items()
             if not n.startswith("_") and ((inspect.isclass(v) and issubclass(v, Module)) or isinstance(v, Module))
             and getattr(v, "__module__", module.__name__) == module.__name__]
    return ", ".join(names) or "(none found)"


def instantiate_program(target: str) -> tuple[ModuleType, Module]:
    """A class (built with no arguments), an instance (copied), or a zero-argument factory."""
    from lmdsl.program import Module

    module, obj = resolve_attr(target, "program")
    if inspect.isclass(obj):
        if not issubclass(obj, Module):
            raise click.UsageError(f"{target}: {obj.__name__} is not an lmdsl program (decorate it with @program)")
        try:
            program = obj()
        except TypeError as exc:
            raise click.UsageError(f"{target}: cannot build {obj.__name__} with no arguments ({exc})") from None
    elif isinstance(obj, Module):
        program = obj.deepcopy()
    elif callable(obj):
        program = obj()
        if not isinstance(program, Module):
            raise click.UsageError(f"{target}: factory returned {type(program).__name__}, not an lmdsl program")
    else:
        raise click.UsageError(f"{target}: {type(obj).__name__} is not a program, class or factory")
    return module, program


def resolve_metric(ref: str) -> Any:
    """A registered metric name (``exact_match``) or a ``module:function`` target."""
    if ":" not in ref:
        from lmdsl.errors import PluginError
        from lmdsl.plugins import get_metric

        try:
            return get_metric(ref)
        except PluginError as exc:
            raise click.UsageError(str(exc)) from None
    _, metric = resolve_attr(ref, "metric")
    if not callable(metric):
        raise click.UsageError(f"{ref}: metric must be callable")
    return metric


def forward_inputs(program: Module) -> tuple[list[str], list[str]]:
    """(required, optional) input names: ``forward``'s parameters, or a bare predictor's signature inputs."""
    from lmdsl.predict import Predict

    if isinstance(program, Predict):
        fields = program.signature.inputs
        return [n for n, f in fields.items() if f.required], [n for n, f in fields.items() if not f.required]
    params = list(inspect.signature(program.forward).parameters.values())
    required = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty]
    optional = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                and p.default is not p.empty]
    return required, optional
