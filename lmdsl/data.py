"""Read JSONL / JSON-list datasets into Examples; errors name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lmdsl.errors import DataError
from lmdsl.primitives import Example


def read_rows(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) per row; errors name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) is not JSON
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a data file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {exc.lineno}: invalid JSON ({exc.msg})") from None
        if not data:
            raise DataError(f"{path}: no rows")
        rows = [(i + 1, row) for i, row in enumerate(data)]
        for n, row in rows:
            if not isinstance(row, dict):
                raise DataError(f"{path} item {n}: expected a JSON object, got {type(row).__name__}")
        return rows
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {n}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path} line {n}: expected a JSON object, got {type(row).__name__}")
        rows.append((n, row))
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def to_examples(rows: Iterable[tuple[int, dict[str, Any]] | dict[str, Any] | Example], required: list[str],
                optional: list[str], source: str = "dataset") -> list[Example]:
    examples = []
    for i, item in enumerate(rows, 1):
        if isinstance(item, Example):
            if item.input_keys is not None:
                examples.append(item)
                continue
            line, row = i, item.to_dict()
        elif isinstance(item, tuple):
            line, row = item
        else:
            line, row = i, item
        missing = [k for k in required if k not in row]
        if missing:
            raise DataError(
                f"{source} line {line}: missing input {', '.join(repr(m) for m in missing)} "
                f"(the program's forward takes {', '.join(required + optional)}; row has {', '.join(row)})"
            )
        inputs = [k for k in required + optional if k in row]
        examples.append(Example(row).with_inputs(*inputs))
    return examples


def load_examples(path: str | Path, required: list[str], optional: list[str]) -> list[Example]:
    return to_examples(read_rows(path), required, optional, str(path))


def load_jsonl(path: str | Path, inputs: Iterable[str], *, limit: int | None = None,
               rename: dict[str, str] | None = None) -> list[Example]:
    """Examples from a JSONL/JSON file with ``inputs`` marked; ``rename`` maps file keys to field names."""
    rows = read_rows(path)[:limit] if limit is not None else read_rows(path)
    if rename:
        rows = [(n, {rename.get(k, k): v for k, v in row.items()}) for n, row in rows]
    keys = list(inputs)
    return to_examples(rows, keys, [], str(path))
