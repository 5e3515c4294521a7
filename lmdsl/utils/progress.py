"""A minimal progress line on stderr (stdout stays clean for results and --json)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """``[####......] 12/60 · 55.0% · 3.1 s`` redrawn in place on a terminal, a few lines otherwise."""

    def __init__(self, total: int, label: str = "", *, enabled: bool = True, stream: TextIO | None = None):
        self.total = max(total, 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.total > 0
        self.done = 0
        self.start = time.perf_counter()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._next_quarter = 0.25
        self._lock = threading.Lock()

    def update(self, n: int = 1, status: str = "") -> None:
        if not self.enabled:
            return
        with self._lock:
            self.done += n
            frac = self.done / self.total
            if self._tty:
                self._draw(status, end="")
            elif frac >= self._next_quarter or self.done == self.total:
                while self._next_quarter <= frac:
                    self._next_quarter += 0.25
                self._draw(status, end="\n")

    def _draw(self, status: str, end: str) -> None:
        width = 20
        filled = int(width * self.done / self.total)
        bar = "#" * filled + "." * (width - filled)
        elapsed = time.perf_counter() - self.start
        parts = [f"{self.label} " if self.label else "", f"[{bar}] {self.done}/{self.total}"]
        if status:
            parts.append(f" · {status}")
        parts.append(f" · {elapsed:.1f} s")
        prefix = "\r" if self._tty else ""
        self.stream.write(prefix + "".join(parts) + end)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._tty:
            self.stream.write("\n")
            self.stream.flush()
