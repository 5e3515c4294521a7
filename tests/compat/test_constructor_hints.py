"""Constructors' annotations resolve at run time.

The CLI checks ``-O key=value`` against an optimizer's (or retriever's, module's) constructor
with ``typing.get_type_hints``; a name imported only under ``TYPE_CHECKING`` would make that
fail and silently turn the check off. Types used in these constructors are imported for real.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing

import pytest

import lmdsl

PACKAGES = ["lmdsl.optimizers", "lmdsl.predict", "lmdsl.retrievers", "lmdsl.evaluate", "lmdsl.executors",
            "lmdsl_copro", "lmdsl_mipro", "lmdsl_gepa"]


def _modules(package: str) -> list[str]:
    try:
        pkg = importlib.import_module(package)
    except ImportError:  # a plugin that is not installed
        return []
    return [package] + [info.name for info in pkgutil.walk_packages(pkg.__path__, package + ".")]


def _constructors() -> list[tuple[str, type]]:
    found = []
    for package in PACKAGES:
        for name in _modules(package):
            module = importlib.import_module(name)
            for attr, obj in vars(module).items():
                if (inspect.isclass(obj) and obj.__module__ == name and not attr.startswith("_")
                        and "__init__" in obj.__dict__):
                    found.append((f"{name}.{attr}", obj))
    return found


@pytest.mark.parametrize(("where", "cls"), _constructors(), ids=lambda v: v if isinstance(v, str) else "")
def test_constructor_annotations_resolve(where: str, cls: type) -> None:
    typing.get_type_hints(cls.__init__)


def test_the_cli_option_check_sees_the_random_search_types() -> None:
    hints = typing.get_type_hints(lmdsl.BootstrapFewShotWithRandomSearch.__init__)
    assert hints["num_candidate_programs"] is int
