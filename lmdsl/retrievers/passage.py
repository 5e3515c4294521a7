"""The value a retriever returns, and the protocol every retriever satisfies.

Kept free of heavy imports: modules, optimizers and plugins type against these without
pulling numpy or an index library into ``import lmdsl``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from lmdsl.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved passage.

    Frozen so that passages can be cached, shared between threads and put in sets;
    ``score`` is the retriever's own relevance score (only comparable within one result list).
    """

    text: str
    title: str = ""
    id: str = ""
    score: float = 0.0

    @property
    def long_text(self) -> str:
        """Title and text in one string, the form a prompt usually wants (as in DSPy's ``long_text``)."""
        return f"{self.title} | {self.text}" if self.title else self.text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for traces, ``--json`` output and saved demos)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        """Inverse of :meth:`to_dict`; unknown keys are ignored so older dumps still load."""
        return cls(
            text=str(data.get("text", "")),
            title=str(data.get("title", "") or ""),
            id=str(data.get("id", "") or ""),
            score=float(data.get("score", 0.0) or 0.0),
        )

    def __str__(self) -> str:
        # Rendering a passage into a prompt (``f"{p}"``, ``str(p)``) gives its title and text,
        # not the dataclass repr.
        return self.long_text


@runtime_checkable
class Retriever(Protocol):
    """Anything that maps a query to at most ``k`` passages, best first."""

    def __call__(self, query: str, k: int) -> list[Passage]: ...


@runtime_checkable
class BatchRetriever(Retriever, Protocol):
    """A retriever that can also answer many queries at once (faster than a loop)."""

    def batch(self, queries: Sequence[str], k: int) -> list[list[Passage]]: ...


def retrieve_batch(retriever: Retriever, queries: Sequence[str], k: int) -> list[list[Passage]]:
    """Answer ``queries`` with ``retriever.batch`` when it has one, else one call per query.

    ``batch`` is optional in the protocol so that a plain function can be a retriever;
    callers use this helper instead of checking for it themselves.
    """
    batch = getattr(retriever, "batch", None)
    if callable(batch):
        return batch(list(queries), k)
    return [retriever(q, k) for q in queries]


def check_k(k: Any) -> int:
    """``k`` as a non-negative whole number (``"5"`` from a CLI option too), or a ConfigError naming it;
    every retriever checks its ``k`` with this so that all of them accept and refuse the same values."""
    if isinstance(k, bool):
        raise ConfigError(f"k must be a non-negative integer, got {k!r}")
    try:
        value = int(k)
    except (TypeError, ValueError):
        raise ConfigError(f"k must be a non-negative integer, got {k!r}") from None
    if value < 0 or (isinstance(k, float) and k != value):
        raise ConfigError(f"k must be a non-negative integer, got {k!r}")
    return value
