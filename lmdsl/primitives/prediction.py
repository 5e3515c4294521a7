"""`Prediction`: what a module returns, outputs by attribute plus completions and usage."""

from __future__ import annotations

from typing import Any

from lmdsl.primitives.example import Example


class Prediction(Example):
    """Outputs of a module call. ``completions`` holds every sampled output dict (``n>1``)."""

    __slots__ = ("_meta",)

    def __init__(self, base: dict[str, Any] | None = None, /, **fields: Any):
        super().__init__(base, **fields)
        object.__setattr__(self, "_meta", {"completions": None, "usage": {}})

    @classmethod
    def from_completions(cls, completions: list[dict[str, Any]], usage: dict[str, int] | None = None) -> Prediction:
        pred = cls(completions[0] if completions else {})
        pred._meta["completions"] = completions
        pred._meta["usage"] = dict(usage or {})
        return pred

    @property
    def completions(self) -> list[dict[str, Any]]:
        return self._meta["completions"] or [dict(self._store)]

    @property
    def usage(self) -> dict[str, int]:
        return self._meta["usage"]

    def __repr__(self) -> str:
        return f"Prediction({self._store!r})"
