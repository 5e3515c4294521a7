"""`Prediction`: what a module returns, outputs by attribute plus completions and usage."""

from __future__ import annotations

from typing import Any

from lmdsl.primitives.example import Example


class Completions(list[dict[str, Any]]):
    """Every sampled output dict of a call, in order; ``completions.answer`` lists one field of each.

    A list of dicts (so ``completions[0]["answer"]`` and iteration work as before) that also
    answers DSPy's spelling: ``pred.completions.answer`` -> ``["Paris", "Lyon", ...]``.
    """

    def __getattr__(self, name: str) -> list[Any]:
        if name.startswith("_") or not self or not all(name in c for c in self):
            fields = ", ".join(self[0]) if self else "none"
            raise AttributeError(f"completions have no field {name!r} (fields: {fields})")
        return [c[name] for c in self]


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
    def completions(self) -> Completions:
        return Completions(self._meta["completions"] or [dict(self._store)])

    def get_lm_usage(self) -> dict[str, dict[str, int]] | None:
        """``{model: {"prompt_tokens", "completion_tokens", "total_tokens"}}`` over every LM call of
        the program call that returned this prediction, when ``configure(track_usage=True)``
        (None otherwise, as in DSPy). :attr:`usage` is this call's own token count."""
        return self._meta.get("lm_usage")

    @property
    def usage(self) -> dict[str, int]:
        return self._meta["usage"]

    def __repr__(self) -> str:
        return f"Prediction({self._store!r})"
