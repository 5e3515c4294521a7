"""Progress of a pass over rows, on stderr (stdout stays clean for results and --json).

On a terminal, a live bar drawn by rich: rows done, the running score, LM calls and
tokens, elapsed time and ETA. Elsewhere (CI logs, pipes, files), plain lines: one per
tenth of the rows, at least every ``interval`` seconds while rows finish, and a last one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, TextIO

from lmdsl.utils import usage as _usage

DEFAULT_INTERVAL = 10.0  # seconds between plain lines at most (while rows keep finishing)
_live_bar: Progress | None = None  # the one bar drawn live (rich) at a time
_live_lock = threading.Lock()


class Progress:
    """``Progress(total, label)``; ``update(n, status=...)`` as rows finish; ``close()`` at the end.

    LM calls and tokens are read from ``usage`` (a :class:`lmdsl.utils.usage.Usage`; ``watch``
    sets it later), else from the innermost ``track_usage()`` block open when the bar is made,
    counted from that moment.
    """

    def __init__(self, total: int, label: str = "", *, enabled: bool = True, stream: TextIO | None = None,
                 usage: _usage.Usage | None = None, interval: float | None = None):
        self.total = max(total, 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.total > 0
        self.done = 0
        self.status = ""
        self.start = time.perf_counter()
        self.interval = interval if interval is not None else _env_interval()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._next_tenth = 1
        self._last_line = self.start
        self._live: Any = None  # rich.progress.Progress on a terminal
        self._task: Any = None
        active = _usage._active.get()
        self.watch(usage if usage is not None else (active[-1] if active else None))
        if self.enabled and self._tty:
            self._start_live()

    def watch(self, usage: _usage.Usage | None) -> None:
        """Report LM calls and tokens from ``usage``, counted from now."""
        self._usage = usage
        self._base = _counts(usage)

    # ---- updates ----------------------------------------------------------------------
    def update(self, n: int = 1, status: str = "") -> None:
        if not self.enabled:
            return
        with self._lock:
            self.done += n
            if status:
                self.status = status
            if self._live is not None:
                self._live.update(self._task, completed=self.done, status=self.status, calls=self._calls_text())
                return
            now = time.perf_counter()
            tenth = self.done * 10 // self.total
            if tenth >= self._next_tenth or now - self._last_line >= self.interval or self.done >= self.total:
                self._next_tenth = tenth + 1
                self._last_line = now
                self._write_line(now)

    def close(self) -> None:
        with self._lock:
            if self._live is not None:
                self._live.stop()
                self._live = None
                global _live_bar
                with _live_lock:
                    _live_bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- drawing ----------------------------------------------------------------------
    def _calls_text(self) -> str:
        if self._usage is None:
            return ""
        calls, cached, tokens = (a - b for a, b in zip(_counts(self._usage), self._base))
        text = f"{calls} LM calls"
        if cached:
            text += f" (+{cached} cached)"
        return f"{text} · {tokens:,} tokens"

    def _write_line(self, now: float) -> None:
        elapsed = now - self.start
        parts = [f"{self.label} " if self.label else "", f"{self.done}/{self.total}",
                 f" ({100 * self.done // self.total}%)"]
        for extra in (self.status, self._calls_text()):
            if extra:
                parts.append(f" · {extra}")
        parts.append(f" · {_duration(elapsed)}")
        if 0 < self.done < self.total:
            parts.append(f" · ETA {_duration(elapsed / self.done * (self.total - self.done))}")
        self.stream.write("".join(parts) + "\n")
        self.stream.flush()

    def _start_live(self) -> None:
        from rich import progress as rp
        from rich.console import Console
        from rich.errors import LiveError

        live = rp.Progress(
            rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
            rp.TextColumn("{task.fields[status]}"), rp.TextColumn("{task.fields[calls]}", style="dim"),
            rp.TimeElapsedColumn(), rp.TextColumn("ETA"), rp.TimeRemainingColumn(),
            console=Console(file=self.stream),
            # log lines written to stderr meanwhile are printed above the bar instead of through it
            redirect_stdout=False, redirect_stderr=self.stream is sys.stderr,
            refresh_per_second=5,
        )
        self._task = live.add_task(self.label or "progress", total=self.total, status="", calls=self._calls_text())
        global _live_bar
        with _live_lock:
            if _live_bar is not None:  # a pass inside a pass: one live bar per terminal, this one prints lines
                return
            _live_bar = self
        try:
            live.start()
        except LiveError:
            _live_bar = None
            return
        self._live = live


def _counts(usage: _usage.Usage | None) -> tuple[int, int, int]:
    if usage is None:
        return (0, 0, 0)
    return (usage.lm_calls, usage.cached_calls, usage.total_tokens)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _env_interval() -> float:
    try:
        return float(os.environ.get("LMDSL_PROGRESS_INTERVAL", DEFAULT_INTERVAL))
    except ValueError:
        return DEFAULT_INTERVAL
