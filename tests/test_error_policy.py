"""The policy for errors and diagnostics, kept true by reading the source.

* every exception lmdsl and its plugins raise on purpose is an :class:`lmdsl.LmdslError`,
  defined in ``lmdsl/errors.py`` (a class that replaced a builtin also derives from it);
* diagnostics go through ``logging.getLogger(__name__)``; nothing but the CLI, the status
  channel (``lmdsl/console.py``) and the sandbox launcher writes to stderr itself.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import lmdsl
from lmdsl import errors

ROOT = Path(__file__).resolve().parents[1]
BUILTIN_ERRORS = {name for name, value in vars(builtins).items()
                  if isinstance(value, type) and issubclass(value, BaseException)}

# Builtins raised on purpose, and why. A stale entry fails the test too.
ALLOWED_RAISES = {
    ("lmdsl/testing.py", "LookupError"):
        "ScriptedLM running out is a bug in the test's script: code catching LmdslError must not swallow it",
    ("lmdsl/sandbox/_launch.py", "ValueError"): "an internal invariant of the seccomp filter builder",
}
# Python's protocols: these builtins are the contract, where they are raised.
PROTOCOL_RAISES = {
    "NotImplementedError": None,  # an abstract method, anywhere
    "AttributeError": {"__getattr__", "__getattribute__", "__setattr__", "__delattr__"},
    "KeyError": {"__getitem__", "__delitem__", "__missing__"},
    "StopIteration": {"__next__"},
    "StopAsyncIteration": {"__anext__"},
}
STDERR_WRITERS = {"lmdsl/console.py", "lmdsl/sandbox/_launch.py"}  # the status handler; a launcher before exec


def sources() -> list[Path]:
    roots = [ROOT / "lmdsl", *(p for p in (ROOT / "plugins").iterdir() if p.is_dir())]
    files = []
    for root in roots:
        for path in root.rglob("*.py"):
            parts = path.relative_to(ROOT).parts
            if "node_modules" in parts or "tests" in parts:
                continue
            files.append(path)
    return sorted(files)


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def functions_around(tree: ast.AST) -> dict[ast.AST, str]:
    """Each node -> the name of the innermost function holding it."""
    owner: dict[ast.AST, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else name
            owner[child] = inner
            visit(child, inner)

    visit(tree, "")
    return owner


def builtin_raises(path: Path) -> list[tuple[int, str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    owner = functions_around(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name) and target.id in BUILTIN_ERRORS:
                found.append((node.lineno, target.id, owner.get(node, "")))
    return found


def test_intentional_errors_are_lmdsl_errors():
    wrong, used = [], set()
    for path in sources():
        for line, name, function in builtin_raises(path):
            if name in PROTOCOL_RAISES and (PROTOCOL_RAISES[name] is None or function in PROTOCOL_RAISES[name]):
                continue
            if (rel(path), name) in ALLOWED_RAISES:
                used.add((rel(path), name))
                continue
            wrong.append(f"{rel(path)}:{line}: raise {name} (use an LmdslError from lmdsl/errors.py)")
    assert wrong == []
    assert set(ALLOWED_RAISES) - used == set(), "allow-list entries no longer needed"


def test_the_scan_sees_a_builtin_raise(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("class C:\n    def __getattr__(self, n):\n        raise AttributeError(n)\n"
                      "    def f(self):\n        raise ValueError('x')\n")
    assert builtin_raises(sample) == [(3, "AttributeError", "__getattr__"), (5, "ValueError", "f")]


def exception_classes(path: Path) -> list[tuple[int, str]]:
    """Classes deriving from an exception; a BaseException signal (Backtrack) is control flow, not an error."""
    names = (BUILTIN_ERRORS - {"BaseException"}) | {
        n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, Exception)}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.lineno, node.name) for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
            and any(isinstance(b, ast.Name) and b.id in names for b in node.bases)]


def test_public_errors_live_in_errors_py():
    outside = [f"{rel(path)}:{line}: class {name}" for path in sources() if rel(path) != "lmdsl/errors.py"
               and not rel(path).startswith("plugins/")  # a plugin is its own distribution (lmdsl_lora.errors)
               for line, name in exception_classes(path) if not name.startswith("_")]
    assert outside == []


def public_errors() -> list[type[BaseException]]:
    return [v for n, v in vars(errors).items()
            if isinstance(v, type) and issubclass(v, errors.LmdslError) and not n.startswith("_")]


def test_every_public_error_says_when_it_is_raised_and_is_exported():
    assert len(public_errors()) >= 20
    for error in public_errors():
        assert error.__module__ == "lmdsl.errors"
        assert len(inspect.getdoc(error) or "") > 30, f"{error.__name__} needs a docstring saying when it is raised"
        assert getattr(lmdsl, error.__name__) is error and error.__name__ in lmdsl.__all__


@pytest.mark.parametrize(("error", "builtin"), [
    (errors.UsageError, ValueError), (errors.UsageTypeError, TypeError), (errors.NotFoundError, KeyError),
    (errors.EventLoopError, RuntimeError), (errors.ServerError, RuntimeError), (errors.SignatureError, TypeError),
    (errors.DataError, ValueError), (errors.ProgramOfThoughtError, RuntimeError), (errors.ToolArgumentError, ValueError),
])
def test_replacements_are_still_caught_as_the_builtin_they_replaced(error, builtin):
    with pytest.raises(builtin):
        raise error("x")


def test_not_found_reads_as_written():
    assert str(errors.NotFoundError("with_inputs: no field(s) x")) == "with_inputs: no field(s) x"
    with pytest.raises(errors.NotFoundError, match=r"^with_inputs: no field\(s\) nope in \['a'\]$"):
        lmdsl.Example(a=1).with_inputs("nope")


def test_moved_errors_import_from_their_old_paths():
    from lmdsl.embeddings.local import EmbeddingsNotInstalled
    from lmdsl.evaluate import MetricError
    from lmdsl.evaluate.evaluate import MetricError as MetricErrorFromModule
    from lmdsl.predict.program_of_thought import ProgramOfThoughtError
    from lmdsl.predict.tools import ToolArgumentError

    assert MetricError is MetricErrorFromModule is errors.MetricError is lmdsl.MetricError
    assert ProgramOfThoughtError is errors.ProgramOfThoughtError
    assert ToolArgumentError is errors.ToolArgumentError
    assert EmbeddingsNotInstalled is errors.EmbeddingsNotInstalled


def test_usage_errors_from_lmdsl_are_lmdsl_errors():
    with pytest.raises(errors.UsageTypeError, match="unknown setting"):
        lmdsl.configure(no_such_setting=1)
    with pytest.raises(errors.UsageError, match="provider/model"):
        lmdsl.LM("no-provider")
    with pytest.raises(errors.SignatureError, match="unexpected keyword"):
        lmdsl.InputField(nonsense=1)


# ---- diagnostics -----------------------------------------------------------------------
def stderr_writes(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "print":
            if any(k.arg == "file" and "stderr" in ast.unparse(k.value) for k in node.keywords):
                lines.append(node.lineno)
        elif isinstance(func, ast.Attribute) and func.attr == "write" and ast.unparse(func.value).endswith("stderr"):
            lines.append(node.lineno)
    return lines


def test_nothing_but_the_cli_and_the_status_channel_writes_to_stderr():
    writers = [f"{rel(path)}:{line}" for path in sources()
               if not rel(path).startswith("lmdsl/cli/") and rel(path) not in STDERR_WRITERS
               for line in stderr_writes(path)]
    assert writers == []


def hard_coded_loggers(path: Path) -> list[int]:
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "getLogger"
            and node.args and isinstance(node.args[0], ast.Constant)]


# Loggers that keep a name users already filter on after their code moved.
KEPT_LOGGER_NAMES = {"lmdsl/program/backtracking/checks.py": "lmdsl.assertions (Assert/Suggest moved there)"}


def test_loggers_are_named_after_their_module():
    found = [rel(path) for path in sources() for _ in hard_coded_loggers(path)]
    assert [p for p in found if p not in KEPT_LOGGER_NAMES] == []
    assert set(KEPT_LOGGER_NAMES) <= set(found), "kept-name entries no longer needed"


def test_the_scans_see_what_they_look_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import logging, sys\nprint('x', file=sys.stderr)\nsys.stderr.write('y')\n"
                      "print('fine')\nlogging.getLogger('hard.coded')\n")
    assert stderr_writes(sample) == [2, 3]
    assert hard_coded_loggers(sample) == [5]


def test_a_library_user_gets_pythons_default_logging():
    """Without pytest's handlers: lmdsl adds none to its loggers, so warnings show (last resort)
    and info does not; status lines show through their own handler."""
    code = (
        "import logging, lmdsl\n"
        "from lmdsl.console import status\n"
        "assert logging.getLogger('lmdsl').handlers == [] and logging.getLogger().handlers == []\n"
        "logging.getLogger('lmdsl.lm.cache').warning('a warning')\n"
        "logging.getLogger('lmdsl.lm.cache').info('an info')\n"
        "status('[bootstrap] a status line')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "a warning\n[bootstrap] a status line\n" and run.stdout == ""


# ---- run-time outcomes are not configuration errors ---------------------------------------
@lmdsl.program
class AlwaysRaises:
    def __init__(self):
        self.gen = lmdsl.Predict("question -> answer")

    def forward(self, question):
        raise RuntimeError(f"cannot handle {question}")


ROWS = [lmdsl.Example(question=f"q{i}", answer="a").with_inputs("question") for i in range(4)]


def test_too_many_teacher_errors_is_an_error_budget_still_caught_as_config_error(scripted):
    from lmdsl.optimizers import BootstrapFewShot

    scripted(["Answer: a"] * 8)
    optimizer = BootstrapFewShot(lmdsl.evaluate.exact_match, max_errors=1, max_labeled_demos=0)
    optimizer.verbose = False
    with pytest.raises(errors.ErrorBudgetExceeded, match="more than 1 teacher runs raised") as info:
        optimizer.compile(AlwaysRaises(), trainset=ROWS)
    assert isinstance(info.value, errors.ConfigError)  # for one release


def test_no_passing_run_to_finetune_is_an_optimization_failure_still_caught_as_config_error(scripted):
    from lmdsl.optimizers import BootstrapFinetune
    from lmdsl.plugins import plugin_manager

    finetuners = plugin_manager().registry("finetuners")
    if "policy-never-called" not in finetuners.names():
        finetuners.register("policy-never-called", lambda *a, **k: pytest.fail("nothing to train on"), "tests")
    scripted(lambda inputs: {"answer": "wrong"})
    optimizer = BootstrapFinetune(lmdsl.evaluate.exact_match, finetuner="policy-never-called")
    optimizer.verbose = False
    with pytest.raises(errors.OptimizationFailed, match="no teacher run passed the metric") as info:
        optimizer.compile(lmdsl.Predict("question -> answer"), trainset=ROWS)
    assert isinstance(info.value, errors.ConfigError)  # for one release
