"""Parsing ``-O key=value`` options against a constructor's parameters."""

from __future__ import annotations

import collections.abc
import inspect
import json
import types
import typing
from typing import Any

import click


def parse_pairs(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"{flag} {pair!r}: expected key=value")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        out[key.strip().replace("-", "_")] = value
    return out


def recordable(options: dict[str, Any]) -> dict[str, Any]:
    """The options a compiled file's JSON metadata can hold: objects (a metric, a teacher) are left out."""
    return {k: v for k, v in options.items() if _json_serializable(v)}


def _json_serializable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False


def check_options(factory: Any, options: dict[str, Any], what: str) -> dict[str, Any]:
    """Refuse unknown keys and values of the wrong type, naming the option and what it accepts."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return options
    params = {n: p for n, p in sig.parameters.items() if n != "self"}
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    try:
        hints = typing.get_type_hints(factory.__init__ if inspect.isclass(factory) else factory)
    except Exception:
        hints = {}
    checked = {}
    for key, value in options.items():
        if key not in params:
            if takes_kwargs:
                checked[key] = value
                continue
            accepted = ", ".join(n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL)
            raise click.UsageError(f"{what} has no option {key!r}; options: {accepted}")
        checked[key] = _coerce(key, value, hints.get(key), what)
    return checked


def _coerce(key: str, value: Any, hint: Any, what: str) -> Any:
    if hint is None:
        return value
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    args = typing.get_args(hint) if union else (hint,)
    candidates = [a for a in args if a is not type(None)]
    if value is None and (type(None) in args or hint is Any):
        return None  # -O stop_at_score=null for an Optional option
    for tp in candidates:
        if _is_callable(tp):
            if callable(value):
                return value
            if isinstance(value, str) and key == "metric":  # -O metric=f1 or -O metric=pkg.mod:function
                from lmdsl.cli.targets import resolve_metric

                return resolve_metric(value)
            continue
        if typing.get_origin(tp) is typing.Literal:
            if value in typing.get_args(tp):
                return value
            continue
        if tp is bool and isinstance(value, bool):
            return value
        if tp is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if tp is str and isinstance(value, str):
            return value
        if tp not in (bool, int, float, str):
            return value
    names = " or ".join(_type_name(t) for t in candidates)
    raise click.UsageError(f"{what} option {key}={json.dumps(value)}: expected {names}")


def _is_callable(tp: Any) -> bool:
    return tp is collections.abc.Callable or typing.get_origin(tp) is collections.abc.Callable


def _type_name(tp: Any) -> str:
    if _is_callable(tp):
        return "a function"
    if typing.get_origin(tp) is typing.Literal:
        return " or ".join(json.dumps(v) for v in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def executor_options(f: Any) -> Any:
    """``--executor NAME [--ray-address ADDR] [--replicas N]``: where a command's program runs.

    The chosen executor becomes the ``executor`` setting for the whole command, so the
    baseline, every optimizer pass and the final score all run there."""
    import functools

    @functools.wraps(f)
    def wrapper(*args: Any, executor: str | None = None, ray_address: str | None = None,
                replicas: int | None = None, **kwargs: Any) -> Any:
        import lmdsl

        chosen = build_executor(executor, ray_address, replicas)
        if chosen is not None:
            lmdsl.configure(executor=chosen)
        return f(*args, **kwargs)

    wrapper = click.option("--replicas", type=click.IntRange(1, 1024), default=None,
                           help="Ray: replicas (actors), each with its own model (default: one per free CPU).")(wrapper)
    wrapper = click.option("--ray-address", metavar="auto|HOST:PORT",
                           help="Ray: the cluster to use (default: start a local one sized to this machine).")(wrapper)
    return click.option("--executor", metavar="NAME",
                        help="Where programs run: threads (default), ray, or a plugin's executor.")(wrapper)


def build_executor(name: str | None, ray_address: str | None, replicas: int | None) -> Any:
    """The executor the flags describe (None: keep the setting's)."""
    from lmdsl.errors import PluginError

    ray_flags = [flag for flag, value in (("--ray-address", ray_address), ("--replicas", replicas)) if value]
    if name is None:
        if ray_flags:
            raise click.UsageError(f"{' and '.join(ray_flags)} need --executor ray")
        return None
    import lmdsl

    try:
        factory = lmdsl.plugin_manager().registry("executors").get(name)
    except PluginError as exc:
        raise click.UsageError(str(exc)) from None
    if name != "ray":
        if ray_flags:
            raise click.UsageError(f"{' and '.join(ray_flags)} apply to --executor ray, not {name!r}")
        return factory()
    return factory(address=ray_address, replicas=replicas)
