"""Where the CLI's log lines go: one stderr handler for the length of a command; -v and -q set
how much of lmdsl's (and its plugins') logging shows.

Library code only logs (``logging.getLogger(__name__)``, status lines through
:mod:`lmdsl.console`); configuring logging is the application's job, and the CLI is one. The
handler prints the bare message, as Python's last-resort output did before it existed, and
only records nothing else prints (a library with its own handler is not echoed twice). It is
removed when the command ends, so in-process callers (tests) get their logging back as it was.
"""

from __future__ import annotations

import logging
from typing import Any

import click

from lmdsl import console
from lmdsl.console import StderrHandler

# -q, default, -v, -vv
LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


class _CliHandler(StderrHandler):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.ours = level  # lmdsl's and the plugins' records (lmdsl.*, lmdsl_*)
        self.others = max(level, logging.WARNING)

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name == "lmdsl" or record.name.startswith(("lmdsl.", "lmdsl_"))
        if record.levelno < (self.ours if ours else self.others):
            return False
        return not _printed_elsewhere(record.name) and bool(super().filter(record))


def _printed_elsewhere(name: str) -> bool:
    """Whether a handler below the root logger already took this record (litellm has its own)."""
    logger: logging.Logger | None = logging.getLogger(name)
    while logger is not None and logger is not logging.root:
        if logger.handlers or not logger.propagate:
            return True
        logger = logger.parent
    return False


def verbosity_options(f: Any) -> Any:
    f = click.option("-q", "--quiet", is_flag=True,
                     help="Only errors: no progress bars, optimizer progress or warnings.")(f)
    return click.option("-v", "--verbose", count=True,
                        help="More log lines from lmdsl and its plugins (-v info, -vv debug).")(f)


def attach_log_handler(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Send log records to stderr at the level -v/-q chose until ``ctx`` closes."""
    if verbose and quiet:
        raise click.UsageError("give -v or -q, not both")
    level = LEVELS[-1 if quiet else min(verbose, 2)]
    handler = _CliHandler(level)
    root = logging.getLogger()
    saved = root.level, console.log.level
    root.addHandler(handler)
    if level < root.getEffectiveLevel():
        root.setLevel(level)  # records below the root's level are never made; the handler filters others' out
    if quiet:
        console.log.setLevel(logging.ERROR)
        from lmdsl.settings import context

        ctx.with_resource(context(display_progress=False))

    def detach() -> None:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        console.log.setLevel(saved[1])

    ctx.call_on_close(detach)
