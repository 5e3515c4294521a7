"""Status lines the user asked for, on stderr, through the ``lmdsl.console`` logger.

Diagnostics (a damaged cache entry, a retried request) use ``logging.getLogger(__name__)``
and Python's defaults: warnings reach stderr until the application configures logging, and
the CLI attaches its own handler (``lmdsl/cli/logs.py``). Status lines are another thing: an
optimizer's progress (``verbose=True``), a skipped plugin, ``LMDSL_TRACE_PLUGINS``. Users see
them without configuring anything, also under pytest, whose handlers on the root logger turn
Python's last-resort output off. So this logger owns one handler that writes the bare message
to the current ``sys.stderr``, and does not propagate (no line twice once an application
configures the root logger). Silence it with
``logging.getLogger("lmdsl.console").setLevel(logging.WARNING)``, or ``lmdsl -q``.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)


class StderrHandler(logging.Handler):
    """Writes the bare message, as Python's last-resort output does, to whatever ``sys.stderr``
    is when the record arrives (test runners and click's CliRunner swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def status(message: str, level: int = logging.INFO) -> None:
    """Show ``message`` on stderr as one line (a WARNING for what went wrong but was survived)."""
    log.log(level, message)


if not any(isinstance(h, StderrHandler) for h in log.handlers):
    log.addHandler(StderrHandler())
    log.propagate = False
    if log.level == logging.NOTSET:  # an application that set a level first keeps it
        log.setLevel(logging.INFO)
