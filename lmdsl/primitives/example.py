"""`Example`: one row of data, with some keys marked as the program's inputs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from lmdsl.errors import NotFoundError, UsageError


class Example:
    """A mapping with attribute access; ``with_inputs`` says which keys a program receives."""

    __slots__ = ("_input_keys", "_store")

    def __init__(self, base: dict[str, Any] | Example | None = None, /, **fields: Any):
        store: dict[str, Any] = {}
        input_keys: frozenset[str] | None = None
        if isinstance(base, Example):
            store.update(base._store)
            input_keys = base._input_keys
        elif base:
            store.update(base)
        store.update(fields)
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_input_keys", input_keys)

    def __getattr__(self, key: str) -> Any:
        try:
            store = object.__getattribute__(self, "_store")
        except AttributeError:  # not initialised yet (copy/unpickle in progress)
            raise AttributeError(key) from None
        try:
            return store[key]
        except KeyError:
            raise AttributeError(f"Example has no field {key!r} (fields: {', '.join(self._store)})") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self._store[key] = value

    def __getstate__(self) -> dict[str, Any]:
        return {slot: getattr(self, slot) for cls in type(self).__mro__ for slot in getattr(cls, "__slots__", ())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for slot, value in state.items():
            object.__setattr__(self, slot, value)

    def __getitem__(self, key: str) -> Any:
        return self._store[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._store[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._store

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Example) and self._store == other._store and self._input_keys == other._input_keys

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, repr(v)) for k, v in self._store.items())))

    def __repr__(self) -> str:
        inputs = f", inputs={sorted(self._input_keys)}" if self._input_keys is not None else ""
        return f"Example({self._store!r}{inputs})"

    def get(self, key: str, default: Any = None) -> Any:
        return self._store.get(key, default)

    def keys(self) -> Iterable[str]:
        return self._store.keys()

    def items(self) -> Iterable[tuple[str, Any]]:
        return self._store.items()

    def to_dict(self) -> dict[str, Any]:
        return dict(self._store)

    def copy(self, **changes: Any) -> Example:
        new = Example(self)
        new._store.update(changes)
        return new

    def with_inputs(self, *keys: str) -> Example:
        missing = [k for k in keys if k not in self._store]
        if missing:
            raise NotFoundError(f"with_inputs: no field(s) {', '.join(missing)} in {sorted(self._store)}")
        new = Example(self)
        object.__setattr__(new, "_input_keys", frozenset(keys))
        return new

    @property
    def input_keys(self) -> frozenset[str] | None:
        return self._input_keys

    def inputs(self) -> Example:
        if self._input_keys is None:
            raise UsageError("Example.inputs(): call .with_inputs(...) first to say which fields are inputs")
        return Example({k: v for k, v in self._store.items() if k in self._input_keys})

    def labels(self) -> Example:
        keys = self._input_keys or frozenset()
        return Example({k: v for k, v in self._store.items() if k not in keys})
