"""``@signature``: a typed Python function whose body the LM supplies."""

from __future__ import annotations

import functools
import inspect
import typing
from typing import Any

from lmdsl.predict.predict import Predict
from lmdsl.signatures import Signature
from lmdsl.signatures.function_form import signature_from_function
from lmdsl.signatures.string_form import parse_signature_string
from lmdsl.values.introspect import is_namedtuple, is_typeddict


class TypedFunction:
    """Calling it runs a ``Predict`` with the configured LM and returns the typed value.

    A single output returns its value, a NamedTuple return type returns a NamedTuple and
    a TypedDict a dict. ``.signature`` is the derived :class:`Signature`.
    """

    def __init__(self, func: Any, instructions: str | None = None):
        sig = signature_from_function(func)
        self.signature: Signature = sig.with_instructions(instructions) if instructions else sig
        self.predict = Predict(self.signature)
        self._params = inspect.signature(func)
        self._return = typing.get_type_hints(func).get("return")
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = self._params.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.signature.name}(): {exc}") from None
        prediction = self.predict(**bound.arguments)
        return self.to_value(prediction)

    def to_value(self, prediction: Any) -> Any:
        outputs = {name: prediction[name] for name in self.signature.outputs}
        if is_namedtuple(self._return):
            return self._return(**outputs)
        if is_typeddict(self._return):
            return outputs
        return next(iter(outputs.values()))

    def __repr__(self) -> str:
        return f"<lmdsl signature {self.signature!r}>"


def signature(spec: Any = None, /, *, instructions: str | None = None, types: dict[str, Any] | None = None) -> Any:
    """Decorate a function (``@signature``) or build a signature from a string.

    ``signature("context: list[str], question -> answer")`` returns a :class:`Signature`;
    ``@signature`` / ``@signature(instructions=...)`` on a function returns a callable
    :class:`TypedFunction`.
    """
    if isinstance(spec, str):
        return parse_signature_string(spec, instructions or "", types=types)
    if spec is None:
        return lambda func: TypedFunction(func, instructions)
    if callable(spec):
        return TypedFunction(spec, instructions)
    raise TypeError(f"signature() takes a function or a string, not {type(spec).__name__}")
