"""Which program a compiled file is loaded into, and what the file may decide.

A compiled ``.json`` is data: the CLI never imports or calls what its ``program`` key names
unless the user says so. The program comes from ``--program TARGET`` (code the user chose),
or, with ``--trust-file``, from the file's ``program`` key, and then only when that names an
lmdsl program class (not a function or any other callable). ``--trust-file`` also lets the
file's ``lm`` entries set endpoints and credentials. ``lmdsl inspect FILE`` without either
reads the file alone and imports nothing.

The options are stored on the click context (``expose_value=False``) so that every command
takes them without its signature changing.
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from lmdsl.program import Module

_PROGRAM = "lmdsl.program_target"
_TRUST = "lmdsl.trust_file"


def _remember(key: str) -> Any:
    def store(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        ctx.meta[key] = value
        return value

    return store


def file_options(f: Any) -> Any:
    """``--program TARGET`` and ``--trust-file`` for commands that take a compiled file."""
    f = click.option("--trust-file", is_flag=True, expose_value=False, callback=_remember(_TRUST),
                     help="Trust a compiled .json: import the program its 'program' key names and accept "
                          "endpoints/credentials in its 'lm' entries. Only for files you made or vetted.")(f)
    return click.option("--program", "program_target", metavar="TARGET", expose_value=False,
                        callback=_remember(_PROGRAM),
                        help="The program (pkg.module:Program or path/file.py:Program) to load a compiled "
                             ".json into; a compiled file is data and never picks the code to run.")(f)


def _meta(key: str) -> Any:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(key) if ctx is not None else None


def is_compiled_file(target: str) -> bool:
    return target.endswith(".json") and ":" not in target


def program_chosen() -> bool:
    """Whether the user said which code a compiled file may run (--program or --trust-file)."""
    return bool(_meta(_PROGRAM) or _meta(_TRUST))


@dataclass
class Loaded:
    module: Any
    program: Module
    program_target: str
    state: dict[str, Any] | None
    file_models: dict[str, str]  # predictor path -> model the compiled file set


def load_target(target: str, *, lm: str | None = None) -> Loaded:
    """The program for a target, or for a compiled .json file (see the module docstring)."""
    from lmdsl.cli.targets import instantiate_program
    from lmdsl.program.state import load_program, read_state

    chosen, trust = _meta(_PROGRAM), bool(_meta(_TRUST))
    if not is_compiled_file(target):
        if chosen or trust:
            raise click.UsageError("--program and --trust-file apply to a compiled .json target; "
                                   f"{target} is a program itself")
        module, program = instantiate_program(target)
        return Loaded(module, program, target, None, {})
    if not os.path.exists(target):
        raise click.UsageError(f"file not found: {target}")
    state = read_state(target)
    named = state.get("program") or ""
    if chosen:
        program_target = chosen
        module, program = instantiate_program(chosen)
    elif trust:
        if not named:
            raise click.UsageError(f"{target}: the file does not say which program it belongs to (no 'program' "
                                   "key); pass --program TARGET")
        program_target = saved_target(named, target)
        module, program = _trusted_program(program_target, target)
    else:
        hint = f"--program {saved_target(named, target)}" if named else "--program pkg.module:Program"
        raise click.UsageError(
            f"{target} is a compiled file, which is data: lmdsl does not import or run the program it names"
            f"{f' ({named!r})' if named else ''}. Say which program to load it into: {hint} "
            "(or --trust-file if you made or vetted this file)"
        )
    file_models = load_program(program, target, trust_file=trust)
    _report_file_models(target, program, file_models, lm)
    return Loaded(module, program, program_target, state, file_models)


def _trusted_program(program_target: str, json_path: str) -> tuple[Any, Any]:
    """The file's own program, only if it names an lmdsl program class (never a callable)."""
    from lmdsl.cli.targets import resolve_attr
    from lmdsl.program import Module

    module, obj = resolve_attr(program_target, "program")
    if not (inspect.isclass(obj) and issubclass(obj, Module)):
        raise click.UsageError(f"{json_path}: 'program' names {program_target}, which is not an lmdsl program "
                               "class; a compiled file may only name a @program class (pass --program TARGET)")
    try:
        return module, obj()
    except TypeError as exc:
        raise click.UsageError(f"{program_target}: cannot build {obj.__name__} with no arguments ({exc})") from None


def _report_file_models(target: str, program: Module, file_models: dict[str, str], lm: str | None) -> None:
    """Say which models the file chose; ``--lm`` (the user's explicit choice) replaces them."""
    if not file_models:
        return
    listed = ", ".join(f"{path} ({model})" for path, model in file_models.items())
    if lm:
        predictors = dict(program.named_predictors())
        for path in file_models:
            predictors[path].lm = None  # falls back to the configured --lm
        click.echo(f"note: --lm {lm} replaces the model(s) {target} sets for {listed}", err=True)
    else:
        click.echo(f"note: {target} sets the model for {listed}; pass --lm to use another", err=True)


def saved_target(target: str, json_path: str) -> str:
    """A saved file target, resolved against the compiled file's folder (or, for files written
    relative to the working directory, against that)."""
    module, _, attr = target.rpartition(":")
    if not module.endswith(".py") or os.path.isabs(module):
        return target
    beside = os.path.join(os.path.dirname(os.path.abspath(json_path)), module)
    if os.path.isfile(beside) or not os.path.isfile(module):
        return f"{os.path.normpath(beside)}:{attr}"
    return target


def show_file(target: str) -> None:
    """``lmdsl inspect FILE``: what a compiled file holds, read as data (nothing imported)."""
    from lmdsl.program.state import read_state

    state = read_state(target)
    meta = state.get("metadata") or {}
    named = state.get("program") or "(not named)"
    click.echo(f"# {target}: compiled file for {_safe(named)} (not imported; pass --program TARGET to render the "
               "exact prompts)")
    if meta:
        click.echo(_safe(f"# optimizer {meta.get('optimizer')}: {meta.get('baseline_score')} -> {meta.get('score')}"))
    for path, entry in state["predictors"].items():
        sig = entry.get("signature") or {}
        demos = entry.get("demos") or []
        click.echo(_safe(f"\n=== {path}: {_fields(sig)} · {len(demos)} demo(s) ==="))
        lm = entry.get("lm")
        if lm:
            settings = ", ".join(f"{k}={v!r}" for k, v in lm.items() if k != "model" and v is not None)
            click.echo(_safe(f"[model] {lm.get('model')}{f' ({settings})' if settings else ''}"))
        click.echo("[instructions]")
        click.echo(_safe(entry.get("instructions") or sig.get("instructions") or ""))
        for i, demo in enumerate(demos, 1):
            click.echo(f"[demo {i}]")
            for key, value in demo.items():
                click.echo(_safe(f"{key}: {value}"))
        bias = entry.get("label_bias")
        if bias:
            shown = ", ".join(f"{label} {value:+.2f}" for label, value in bias.items())
            click.echo(_safe(f"[label bias] {shown}"))


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def _safe(value: Any) -> str:
    """Text from a file, printed without the terminal control sequences it might carry."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def _fields(sig: dict[str, Any]) -> str:
    def names(kind: str) -> str:
        return ", ".join(f"{f.get('name')}: {f.get('type')}" for f in sig.get(kind) or [] if isinstance(f, dict))

    return f"({names('inputs')} -> {names('outputs')})"
