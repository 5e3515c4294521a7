"""``@signature``: a typed Python function whose body the LM supplies."""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any

from lmdsl.errors import UsageTypeError
from lmdsl.predict.predict import Predict
from lmdsl.signatures import Signature
from lmdsl.signatures.function_form import resolve_hints, signature_from_function
from lmdsl.signatures.string_form import parse_signature_string
from lmdsl.values.introspect import is_namedtuple, is_typeddict


class TypedFunction:
    """Calling it runs a ``Predict`` with the configured LM and returns the typed value.

    A single output returns its value, a NamedTuple return type returns a NamedTuple and
    a TypedDict a dict. ``.signature`` is the derived :class:`Signature`. ``localns`` holds
    names for the annotations beyond the function's module globals (the decorator passes the
    locals of the function that defines it, for types local to that function).
    """

    def __init__(self, func: Any, instructions: str | None = None, localns: dict[str, Any] | None = None):
        sig = signature_from_function(func, localns)
        self.signature: Signature = sig.with_instructions(instructions) if instructions else sig
        self.predict = Predict(self.signature)
        self._params = inspect.signature(func)
        self._return: Any = resolve_hints(func, localns).get("return")  # any type a function may return
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = self._params.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise UsageTypeError(f"{self.signature.name}(): {exc}") from None
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
    :class:`TypedFunction`. Annotations may name types local to the enclosing function (also
    under ``from __future__ import annotations``): they are looked up in the locals of the
    frame the decorator is applied in, as they are when it is applied.
    """
    if isinstance(spec, str):
        return parse_signature_string(spec, instructions or "", types=types)
    if spec is None:

        def decorate(func: Any) -> TypedFunction:
            return TypedFunction(func, instructions, _caller_locals())

        return decorate
    if callable(spec):
        return TypedFunction(spec, instructions, _caller_locals())
    raise UsageTypeError(f"signature() takes a function or a string, not {type(spec).__name__}")


def _caller_locals() -> dict[str, Any]:
    """A copy of the locals of the frame that called the caller (where the decorator is applied).

    Module-level decoration gives the module namespace (harmless: the function's globals);
    inside a function, its local types and aliases.
    """
    frame = sys._getframe(2)
    try:
        return {} if frame.f_locals is frame.f_globals else dict(frame.f_locals)
    finally:
        del frame
