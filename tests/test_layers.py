"""Imports point down the layers (DESIGN.md) and never form a cycle when lmdsl is imported."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import lmdsl

ROOT = Path(lmdsl.__file__).parent
# Layers that hold the rest up: at import time they reach nothing above them.
CORE = ("errors", "settings", "values", "signatures", "adapters", "lm")
ABOVE_CORE = ("primitives", "program", "predict", "retrievers", "evaluate", "teleprompt", "executors", "plugins", "cli")


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        parts = ("lmdsl", *path.relative_to(ROOT).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _import_time_edges(path: Path, modules: dict[str, Path]) -> set[str]:
    """lmdsl modules imported when ``path`` is (function bodies and TYPE_CHECKING blocks excluded)."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = [f"{node.module}.{a.name}" for a in node.names]
                found.update(subs)
                if not all(s in modules for s in subs):
                    found.add(node.module)
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    visit(inner)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {m for m in found if m in modules}


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _import_time_edges(path, modules) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between modules (a package importing its own submodules is no cycle), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):  # a package's __init__ re-exporting its submodules
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := walk(start)):
            return found
    return None


def test_no_import_cycle_between_modules():
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_core_layers_import_nothing_above_them():
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in _graph().items() if name.split(".")[1:2] and name.split(".")[1] in CORE
        for target in targets if target.split(".")[1:2] and target.split(".")[1] in ABOVE_CORE
    )
    assert upward == []


def test_no_cycle_between_packages():
    # lm -> telemetry -> utils: usage counting and secret scrubbing live in utils, so neither lower
    # package reaches back into lm (they did until lm/usage.py and lm/secrets.py moved).
    packages: dict[str, set[str]] = {}
    for name, targets in _graph().items():
        if name.count(".") < 1:
            continue
        package = name.split(".")[1]
        packages.setdefault(package, set()).update(
            t.split(".")[1] for t in targets if t.count(".") >= 1 and t.split(".")[1] != package)
    assert _cycle(packages) is None


def test_settings_imports_no_lmdsl_layer():
    assert _graph()["lmdsl.settings"] <= {"lmdsl.errors"}


def test_moved_modules_answer_to_their_old_names():
    import lmdsl.lm.secrets
    import lmdsl.lm.usage
    from lmdsl.utils import secrets, usage

    assert lmdsl.lm.usage is usage and lmdsl.lm.secrets is secrets
    assert lmdsl.lm.track_usage is usage.track_usage
