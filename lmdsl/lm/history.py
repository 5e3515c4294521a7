"""Bounded history of LM calls, per LM and process-wide, and ``inspect_history``."""

from __future__ import annotations

import sys
import threading
from collections import deque
from typing import Any, TextIO

_GLOBAL: deque[dict[str, Any]] = deque(maxlen=200)
_lock = threading.Lock()


def remember(entry: dict[str, Any]) -> None:
    with _lock:
        _GLOBAL.append(entry)


def last(n: int = 1) -> list[dict[str, Any]]:
    with _lock:
        return list(_GLOBAL)[-n:]


def clear() -> None:
    with _lock:
        _GLOBAL.clear()


def format_entry(entry: dict[str, Any]) -> str:
    lines = [f"── {entry['model']}{'  (cached)' if entry.get('cached') else ''} ──"]
    for m in entry["messages"]:
        lines.append(f"[{m['role']}]")
        lines.append(str(m["content"]))
    for i, out in enumerate(entry["outputs"]):
        lines.append(f"[reply{'' if len(entry['outputs']) == 1 else f' {i + 1}'}]")
        lines.append(out)
    return "\n".join(lines)


def inspect_history(n: int = 1, file: TextIO | None = None, entries: list[dict[str, Any]] | None = None) -> str:
    """Print (and return) the last ``n`` prompts and replies, exactly as sent and received."""
    text = "\n\n".join(format_entry(e) for e in (entries if entries is not None else last(n)))
    print(text, file=file or sys.stdout)
    return text
