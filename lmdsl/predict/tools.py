"""`Tool`: an ordinary Python function an agent (``ReAct``) may call.

The name, the parameters' type hints and the docstring become the tool's description
through the same machinery as ``@signature`` (Google/NumPy/reST ``Args:`` sections give
the argument descriptions). Arguments proposed by a model are validated against the
hints *before* the call, leniently where that is safe (``"3"`` for an ``int``), with a
precise :class:`ToolArgumentError` otherwise.

    >>> def add(a: int, b: int = 1) -> int:
    ...     '''Add two integers.
    ...
    ...     Args:
    ...         a: the first number.
    ...         b: the second number.
    ...     '''
    ...     return a + b
    >>> tool = Tool(add)
    >>> tool.describe()
    'add(a: int, b: int = 1) -> int\\n    Add two integers.\\n    Args: a (int): the first number; b (int, default 1): the second number.'
    >>> tool({"a": "2", "b": 3})
    5
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any, get_type_hints

from lmdsl import callbacks
from lmdsl.errors import EventLoopError, SignatureError, ToolArgumentError, ValueParseError
from lmdsl.signatures import Field, Signature
from lmdsl.signatures.field import MISSING
from lmdsl.signatures.function_form import docstring_instructions, parse_docstring
from lmdsl.values import parse_value, type_repr


class Tool:
    """A callable with a name, a description and typed, validated arguments.

    ``Tool(func)`` reads everything from ``func``; ``name=`` and ``description=`` override.
    Calling the tool with a mapping validates it first: ``tool({"query": "x"})``.
    """

    def __init__(self, func: Callable[..., Any], *, name: str | None = None, description: str | None = None):
        if isinstance(func, Tool):
            func = func.func
        if not callable(func):
            raise SignatureError(f"Tool: {func!r} is not callable")
        self.func: Callable[..., Any] = func
        inner = func.func if isinstance(func, functools.partial) else func
        fname = getattr(inner, "__name__", None) or type(inner).__name__
        self.name = name or fname
        if not self.name.isidentifier():
            raise SignatureError(f"Tool {self.name!r}: the name must be an identifier")
        target: Callable[..., Any]
        if inspect.isfunction(inner) or inspect.ismethod(inner) or inspect.isbuiltin(inner):
            target = inner
        else:  # a callable object: hints and docstring are on __call__ (the class's doc if that has none)
            target = type(inner).__call__
        try:
            hints = get_type_hints(target)
        except TypeError:  # a builtin or a functools.partial: no hints to read
            hints = {}
        except Exception as exc:
            raise SignatureError(f"Tool {self.name}: cannot resolve type hints ({exc})") from None
        try:
            doc = parse_docstring(target if getattr(target, "__doc__", None) else inner)
        except Exception as exc:
            raise SignatureError(f"Tool {self.name}: cannot parse the docstring ({exc})") from None
        param_docs = {p.arg_name: (p.description or "").strip() for p in doc.params}
        args: dict[str, Field] = {}
        self._var_kwargs = False
        for p in inspect.signature(func).parameters.values():
            if p.kind is p.VAR_KEYWORD:
                self._var_kwargs = True
                continue
            if p.kind is p.VAR_POSITIONAL:
                continue
            if p.kind is p.POSITIONAL_ONLY:
                raise SignatureError(f"Tool {self.name}: positional-only parameter {p.name!r} cannot be named")
            default = MISSING if p.default is p.empty else p.default
            args[p.name] = Field(p.name, hints.get(p.name, Any), param_docs.get(p.name, ""), "input", default)
        self.args: dict[str, Field] = args
        self.returns: Any = hints.get("return", Any)
        self.description = (description if description is not None else docstring_instructions(doc)).strip()

    # ---- description ------------------------------------------------------------------
    @property
    def signature(self) -> Signature:
        """The tool as a Signature value (arguments as inputs, one ``result`` output)."""
        ret = self.returns if self.returns not in (None, type(None)) else str
        return Signature(list(self.args.values()), [Field("result", ret, "", "output")], self.description,
                         self.name)

    def schema(self) -> dict[str, Any]:
        """JSON schema of the arguments (``{"type": "object", "properties": ..., "required": [...]}``)."""
        from pydantic import TypeAdapter

        props: dict[str, Any] = {}
        for name, f in self.args.items():
            try:
                prop = TypeAdapter(f.type).json_schema() if f.type is not Any else {}
            except Exception:
                prop = {}
            if f.desc:
                prop["description"] = f.desc
            if not f.required:
                try:
                    prop["default"] = json.loads(json.dumps(f.default))
                except (TypeError, ValueError):
                    pass
            props[name] = prop
        return {"type": "object", "properties": props, "required": [n for n, f in self.args.items() if f.required]}

    def call_signature(self) -> str:
        """``search(query: str, k: int = 3) -> list[str]``."""
        parts = []
        for name, f in self.args.items():
            text = f"{name}: {type_repr(f.type)}" if f.type is not Any else name
            if not f.required:
                text += f" = {f.default!r}"
            parts.append(text)
        ret = "" if self.returns is Any else f" -> {type_repr(self.returns)}"
        return f"{self.name}({', '.join(parts)}){ret}"

    def describe(self) -> str:
        """A few lines for a prompt: the call signature, the description, the arguments."""
        lines = [self.call_signature()]
        if self.description:
            lines += ["    " + ln for ln in self.description.splitlines() if ln.strip()]
        described = []
        for name, f in self.args.items():
            meta = type_repr(f.type) if f.type is not Any else "any"
            if not f.required:
                meta += f", default {f.default!r}"
            described.append(f"{name} ({meta})" + (f": {f.desc.rstrip('.')}" if f.desc else ""))
        if described:
            lines.append("    Args: " + "; ".join(described) + ".")
        return "\n".join(lines)

    # ---- validation and calling -------------------------------------------------------
    def validate(self, args: Any) -> dict[str, Any]:
        """Check and coerce proposed arguments; raise :class:`ToolArgumentError` on a mismatch.

        ``args`` may be a mapping, a JSON object string, or -- for a tool with exactly one
        parameter -- the bare value of that parameter (small models often write that).
        """
        args = self._as_mapping(args)
        unknown = [k for k in args if k not in self.args]
        if unknown and not self._var_kwargs:
            expected = ", ".join(self.args) or "none"
            raise ToolArgumentError(
                f"{self.name}: unexpected argument(s) {', '.join(map(repr, unknown))}; arguments are {expected}",
                tool=self.name, argument=unknown[0],
            )
        missing = [n for n, f in self.args.items() if f.required and n not in args]
        if missing:
            raise ToolArgumentError(
                f"{self.name}: missing required argument(s) {', '.join(map(repr, missing))}",
                tool=self.name, argument=missing[0],
            )
        values: dict[str, Any] = {}
        for key, value in args.items():
            f = self.args.get(key)
            values[key] = value if f is None else self._coerce(f, value)
        return values

    def _as_mapping(self, args: Any) -> dict[str, Any]:
        if args is None:
            return {}
        if isinstance(args, str):
            text = args.strip()
            if not text:
                return {}
            from lmdsl.values.parse import extract_json

            try:
                data = extract_json(text)
            except ValueError:
                data = _NOT_JSON
            if isinstance(data, dict):
                return dict(data)
            if len(self.args) == 1:
                return {next(iter(self.args)): text if data is _NOT_JSON else data}
            raise ToolArgumentError(
                f"{self.name}: arguments must be a JSON object like "
                f"{json.dumps({n: '...' for n in self.args})}, got {_shown(text)}",
                tool=self.name,
            )
        if isinstance(args, Mapping):
            return {str(k): v for k, v in args.items()}
        if len(self.args) == 1:
            return {next(iter(self.args)): args}
        raise ToolArgumentError(f"{self.name}: arguments must be a JSON object, got {_shown(repr(args))}",
                                tool=self.name)

    def _coerce(self, f: Field, value: Any) -> Any:
        tp = f.type
        if tp is Any:
            return value
        try:
            if isinstance(value, str):
                return parse_value(value, tp, f.name)
            if tp is str:
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    return str(value)
                raise ValueParseError(f"field '{f.name}': expected str, got {_shown(json.dumps(value))}",
                                      field=f.name)
            return parse_value(json.dumps(value), tp, f.name)
        except ValueParseError as exc:
            message = str(exc).replace(f"field '{f.name}'", f"argument '{f.name}'", 1)
            raise ToolArgumentError(f"{self.name}: {message}", tool=self.name, argument=f.name) from None
        except (TypeError, ValueError) as exc:  # e.g. json.dumps of an object
            raise ToolArgumentError(f"{self.name}: argument '{f.name}': {exc}", tool=self.name,
                                    argument=f.name) from None

    def __call__(self, args: Any = None, /, **kwargs: Any) -> Any:
        """Validate, then call: ``tool({"a": 1})`` or ``tool(a=1)``."""
        merged = {**self._as_mapping(args), **kwargs} if args is not None else kwargs
        return self.run(self.validate(merged))

    async def acall(self, args: Any = None, /, **kwargs: Any) -> Any:
        """Validate, then await the call (DSPy's ``await tool.acall(a=1)``)."""
        merged = {**self._as_mapping(args), **kwargs} if args is not None else kwargs
        return await self.arun(self.validate(merged))

    def run(self, args: dict[str, Any]) -> Any:
        """Call with validated arguments; callbacks see it. An ``async def`` tool is run to completion."""
        with callbacks.watching("tool", self, args) as out:
            value = self.func(**args)
            if inspect.isawaitable(value):
                value = _run_to_completion(self.name, value)
            out.value = value
        return out.value

    async def arun(self, args: dict[str, Any]) -> Any:
        """Await an ``async def`` tool; a sync one runs in a worker thread so it cannot block the event loop."""
        with callbacks.watching("tool", self, args) as out:
            if inspect.iscoroutinefunction(self.func):
                value = await self.func(**args)
            else:
                ctx = contextvars.copy_context()
                value = await asyncio.to_thread(ctx.run, functools.partial(self.func, **args))
                if inspect.isawaitable(value):  # a callable object with an async __call__
                    value = await value
            out.value = value
        return out.value

    # Tools are configuration, not learnable state: copies of a program share them
    # (a bound method's object -- a retriever, a client -- must not be deep-copied).
    def __copy__(self) -> Tool:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Tool:
        return self

    def __repr__(self) -> str:
        return f"Tool({self.call_signature()})"


_NOT_JSON = object()


def _run_to_completion(name: str, awaitable: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(awaitable))
    if inspect.iscoroutine(awaitable):
        awaitable.close()  # never awaited: close it rather than leak a warning
    raise EventLoopError(f"tool {name} is async and was called from sync code inside an event loop; "
                       "use `await tool.acall(...)` or the module's `acall`")


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _shown(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def as_tool(obj: Any) -> Tool:
    return obj if isinstance(obj, Tool) else Tool(obj)
