"""Validate chat training rows (OpenAI fine-tuning format) and give them a canonical form.

Validation happens before anything heavy is imported so that a bad row costs milliseconds,
not a 15 s model load, and the error names the row, the message and the key.
The canonical form (only the fields training reads) is what the cache key hashes, so two
datasets that train identically share one tuned model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from lmdsl_lora.errors import DatasetError

ROLES = ("system", "user", "assistant")
ROLE_ORDER_HINT = "roles must go [system,] user, assistant[, user, assistant ...] and end with assistant"

Message = dict[str, Any]


def validate_dataset(dataset: Any) -> list[list[Message]]:
    """Check every row and return the canonical messages of each.

    A canonical message is ``{"role", "content"}`` plus ``"weight"`` on an assistant turn
    when the row gave one (OpenAI's convention: weight 0 means "do not learn this turn").
    """
    if isinstance(dataset, str | bytes | Mapping) or not isinstance(dataset, Sequence):
        raise DatasetError(
            f"dataset must be a list of rows like {{'messages': [...]}}, got {type(dataset).__name__}"
        )
    if not dataset:
        raise DatasetError("dataset is empty: a finetune needs at least one row")
    rows = [_validate_row(i, row) for i, row in enumerate(dataset)]
    if not any(m["role"] == "assistant" and m.get("weight", 1) for row in rows for m in row):
        raise DatasetError("every assistant turn in the dataset has weight 0: nothing to learn")
    return rows


def _validate_row(i: int, row: Any) -> list[Message]:
    where = f"row {i}"
    if not isinstance(row, Mapping):
        raise DatasetError(f"{where}: expected a dict like {{'messages': [...]}}, got {type(row).__name__}")
    if "messages" not in row:
        raise DatasetError(f"{where}: missing key 'messages' (has {sorted(row)})")
    messages = row["messages"]
    if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Sequence) or not messages:
        raise DatasetError(f"{where}: 'messages' must be a non-empty list of {{'role', 'content'}} dicts")
    out: list[Message] = []
    for j, msg in enumerate(messages):
        out.append(_validate_message(f"{where}, message {j}", msg))
    _check_order(where, [m["role"] for m in out])
    return out


def _validate_message(where: str, msg: Any) -> Message:
    if not isinstance(msg, Mapping):
        raise DatasetError(f"{where}: expected a dict with 'role' and 'content', got {type(msg).__name__}")
    for key in ("role", "content"):
        if key not in msg:
            raise DatasetError(f"{where}: missing key {key!r} (has {sorted(msg)})")
    role, content = msg["role"], msg["content"]
    if role not in ROLES:
        raise DatasetError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    if not isinstance(content, str):
        raise DatasetError(f"{where}: 'content' must be a string, got {type(content).__name__}")
    out: Message = {"role": role, "content": content}
    if "weight" in msg:
        if role != "assistant" or msg["weight"] not in (0, 1) or isinstance(msg["weight"], float):
            raise DatasetError(f"{where}: 'weight' is only allowed on assistant turns and must be 0 or 1")
        out["weight"] = int(msg["weight"])
    return out


def _check_order(where: str, roles: list[str]) -> None:
    body = roles[1:] if roles[0] == "system" else roles
    if not body:
        raise DatasetError(f"{where}: only a system message; {ROLE_ORDER_HINT}")
    for k, role in enumerate(body):
        expected = "user" if k % 2 == 0 else "assistant"
        if role != expected:
            index = k + (len(roles) - len(body))
            after = f" after {roles[index - 1]!r}" if index else " first"
            raise DatasetError(
                f"{where}: message {index} has role {role!r}{after}, expected {expected!r}; {ROLE_ORDER_HINT}"
            )
    if body[-1] != "assistant":
        raise DatasetError(f"{where}: the last message has role {body[-1]!r}; {ROLE_ORDER_HINT}")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same data always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dataset_sha256(rows: list[list[Message]]) -> str:
    return hashlib.sha256(canonical_json(rows).encode()).hexdigest()
