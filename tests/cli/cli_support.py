"""Paths and the result wrapper shared by the CLI tests."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
PROG = FIXTURES / "sentiment_prog.py"


class Run:
    def __init__(self, result):
        self.result = result
        self.code = result.exit_code
        self.out = result.stdout
        self.err = result.stderr

    def json(self):
        lines = self.out.splitlines()
        assert len(lines) == 1, f"expected one JSON line on stdout, got {self.out!r}"
        return json.loads(lines[0])

    def error_line(self) -> str:
        """The one 'Error: ...' line click or lmdsl printed."""
        lines = [line for line in self.err.splitlines() if line.startswith("Error: ")]
        assert len(lines) == 1, self.err
        return lines[0]

