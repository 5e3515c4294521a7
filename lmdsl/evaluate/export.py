"""Evaluation results you can keep: one row per example as a table, a DataFrame, JSONL or CSV.

JSONL keeps types and nesting (``inputs``, ``outputs``, ``gold`` objects); CSV is flat text
(``input.question``, ``output.answer``, ...), with lists and dicts written as JSON.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from lmdsl.errors import ConfigError, DataError

FIXED = ("index", "score", "error", "calls", "tokens", "latency")
NUMERIC = {"index": int, "score": float, "calls": int, "tokens": int, "latency": float}


def _plain(value: Any) -> Any:
    from lmdsl.values.render import to_jsonable

    return to_jsonable(value)


def record(index: int, row: Any) -> dict[str, Any]:
    """The nested, JSON-able form of one row."""
    example = row.example
    inputs = example.inputs().to_dict()
    gold = {k: v for k, v in example.to_dict().items() if k not in inputs}
    prediction = row.prediction
    if prediction is None:
        outputs: dict[str, Any] = {}
    elif hasattr(prediction, "to_dict"):
        outputs = prediction.to_dict()
    else:
        outputs = {"output": prediction}
    return {"index": index, "inputs": _plain(inputs), "outputs": _plain(outputs), "gold": _plain(gold),
            "score": row.score, "error": row.error, "calls": row.calls, "tokens": row.tokens,
            "latency": round(row.latency, 4)}


def flatten(rec: dict[str, Any]) -> dict[str, Any]:
    flat = {k: rec[k] for k in ("index",)}
    for group, prefix in (("inputs", "input."), ("outputs", "output."), ("gold", "gold.")):
        flat.update({prefix + k: v for k, v in rec[group].items()})
    flat.update({k: rec[k] for k in FIXED if k != "index"})
    return flat


def to_table(result: Any) -> list[dict[str, Any]]:
    return [flatten(record(i, row)) for i, row in enumerate(result.results)]


def to_pandas(result: Any) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:
        raise ConfigError("to_pandas() needs pandas: pip install pandas (or use to_table())") from exc
    return pd.DataFrame(to_table(result))


def write_results(result: Any, path: str | Path) -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise ConfigError(f"{path}: results are written as .jsonl or .csv, not {suffix or 'a file without suffix'}")
    records = [record(i, row) for i, row in enumerate(result.results)]
    if suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as f:
            for rec in records:
                f.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
        return path
    rows = [flatten(rec) for rec in records]
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return path


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Rows written by :func:`write_results`, as :meth:`EvaluationResult.to_table` gave them
    (from CSV, fields other than the fixed numeric columns come back as text)."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(flatten(json.loads(line)))
            except (ValueError, KeyError) as exc:
                raise DataError(f"{path} line {n}: not an evaluation result row ({exc})") from None
        return rows
    with path.open(encoding="utf-8", newline="") as f:
        out = []
        for row in csv.DictReader(f):
            typed: dict[str, Any] = {}
            for key, text in row.items():
                if key in NUMERIC:
                    typed[key] = NUMERIC[key](text) if text != "" else None
                elif key == "error":
                    typed[key] = text or None
                else:
                    typed[key] = text
            out.append(typed)
        return out
