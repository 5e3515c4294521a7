"""Honest outcomes: runs where every row failed are failures, and ``compile -o`` never loses a
better program.

The output path is checked before any LM call (a typo costs nothing); an existing compiled
file is replaced only by a program that scores at least as well, otherwise the new one is
written next to it (``X.2.json``) and the CLI says so; ``--force`` replaces it anyway. A file
at ``-o`` that is not an lmdsl compiled program is never overwritten.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

_FORCE = "lmdsl.force_output"


def force_option(f: Any) -> Any:
    def store(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        ctx.meta[_FORCE] = value
        return value

    return click.option("--force", is_flag=True, expose_value=False, callback=store,
                        help="Replace an existing -o compiled file even if it recorded a better score.")(f)


@dataclass
class OutputPlan:
    path: Path
    previous_score: float | None = None  # what the compiled file already at ``path`` recorded
    exists: bool = False


def check_output(out: str, *, inputs: tuple[str | None, ...] = ()) -> OutputPlan:
    """Refuse an output path that cannot or must not be written, before the compile starts."""
    from lmdsl.errors import LoadError
    from lmdsl.program.state import read_state

    path = Path(out)
    if path.suffix != ".json":
        raise click.UsageError(f"-o {out}: a compiled program is a .json file (e.g. {path.with_suffix('.json')})")
    if path.is_dir():
        raise click.UsageError(f"-o {out}: is a directory")
    for other in inputs:
        if other and os.path.exists(other) and path.exists() and os.path.samefile(other, path):
            raise click.UsageError(f"-o {out}: is also an input of this compile ({other}); choose another path")
    parent = _existing_parent(path)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise click.UsageError(f"-o {out}: cannot write in {parent} (not a writable folder)")
    if not path.exists():
        return OutputPlan(path)
    try:
        state = read_state(path)
    except LoadError as exc:
        raise click.UsageError(f"-o {out}: exists and is not an lmdsl compiled program ({exc}); refusing to "
                               "overwrite it, choose another path") from None
    score = (state.get("metadata") or {}).get("score")
    value = float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None
    return OutputPlan(path, value if value is not None and math.isfinite(value) else None, exists=True)


def _existing_parent(path: Path) -> Path:
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def final_path(plan: OutputPlan, score: float) -> Path:
    """Where to save a program that scored ``score``: ``plan.path`` unless that holds a better
    one (and --force was not given), then the first free ``X.2.json``, ``X.3.json``..."""
    ctx = click.get_current_context(silent=True)
    force = bool(ctx and ctx.meta.get(_FORCE))
    if force or plan.previous_score is None or score >= plan.previous_score:
        return plan.path
    n = 2
    while (candidate := plan.path.with_suffix(f".{n}.json")).exists():
        n += 1
    click.echo(f"warning: kept {plan.path} (it recorded score {plan.previous_score:.1f}; this compile scored "
               f"{score:.1f}); wrote the new program to {candidate} (--force replaces the old one)", err=True)
    return candidate


def fail_if_all_failed(result: Any, what: str) -> None:
    """Exit 1 with the first error when every row of an evaluation raised (a score of 0 from
    a missing key or a wrong model name is not a result)."""
    if result.n and result.errors == result.n:
        first = next((r.error for r in result.results if r.error), "")
        raise click.ClickException(f"{what}: all {result.n} examples failed; first error: {_scrubbed(first)}")


def _scrubbed(text: str) -> str:
    from lmdsl.utils.secrets import scrub

    return scrub(text)


def refuse_wrappers(stages: list[Any], target: str) -> None:
    """An optimizer whose result wraps the program (KNN, Ensemble) cannot be saved as a compiled
    .json: say so before the baseline, not after a whole compile."""
    wrappers = [s.name for s in stages if getattr(s.factory, "wraps_program", False)]
    if wrappers:
        raise click.UsageError(
            f"optimizer {wrappers[0]!r} returns a new program wrapping {target}, which a compiled .json "
            f"cannot hold; use it from Python (optimizer.compile(program, ...))"
        )
