"""What travels to a replica to run a program: its import target and saved state, never the objects.

A program holds LMs (an embedded model, a client with a key), a retriever index and code:
pickling it would load a model per task, or fail. A replica instead imports the program
by target (``pkg.module:Program`` or ``path/file.py:Program``; a program class, a module-level
instance or a zero-argument factory, as on the CLI), applies the driver's saved state
(``Module.dump_state``: instructions, demos, label biases) and builds each LM from a spec
(its class and parameters, or the name of a module-level object in the program's module).
A fingerprint of the program's plain settings (``Retrieve.k``, ``BestOfN.n``...) catches a
program that the target builds differently from the one being run.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmdsl import settings
from lmdsl.errors import ConfigError
from lmdsl.lm.default import current_lm
from lmdsl.lm.lm import LM
from lmdsl.program import Module

TARGET_ATTR = "_lmdsl_target"
# Settings that shape how a program runs, shipped to replicas as values.
SHIPPED_SETTINGS = ("max_reasks", "assertions", "max_backtracks", "history_size", "track_usage")
# Settings shipped as objects (by module attribute name when the program's module defines them).
SHIPPED_OBJECTS = ("adapter", "retriever")
_LEARNED = {"demos", "signature", "lm", "label_bias", "adapter", "config"}


def set_program_target(program: Any, target: str) -> Any:
    """Say how replicas import ``program`` (``pkg.mod:attr`` or ``path/file.py:attr``: a program class
    built with no arguments, a module-level instance, or a zero-argument factory). Needed only when
    the program's class cannot be built with no arguments into the same program. Returns ``program``."""
    object.__setattr__(program, TARGET_ATTR, target)
    return program


def program_target(program: Any) -> str:
    """The target set with :func:`set_program_target`, else the program's class."""
    target = getattr(program, TARGET_ATTR, None)
    if target:
        return str(target)
    cls = type(program)
    name, qual = cls.__module__, cls.__qualname__
    if "<locals>" in qual:
        raise ConfigError(f"ray executor: program class {qual} is defined inside a function, so workers cannot "
                          "import it; define it at module level or call "
                          "lmdsl.executors.set_program_target(program, 'pkg.module:factory')")
    module = sys.modules.get(name)
    if name == "__main__" or name.startswith("lmdsl_user_"):  # a script, or a file the CLI loaded by path
        file = getattr(module, "__file__", None)
        if not file:
            raise ConfigError(f"ray executor: program class {qual} lives in an interactive session, so workers "
                              "cannot import it; put it in a module (a .py file) and use it from there")
        return f"{Path(file).resolve()}:{qual}"
    return f"{name}:{qual}"


@dataclass
class Payload:
    target: str
    cwd_target: str | None  # a file target relative to the driver's working directory (Ray jobs ship that)
    state: dict[str, Any]
    lms: dict[str, dict[str, Any] | None]  # predictor path -> LM spec (None: the default LM)
    default_lm: dict[str, Any] | None
    values: dict[str, Any]
    objects: dict[str, dict[str, Any]]
    fingerprint: dict[str, str]
    digest: str = field(default="")


def build_payload(program: Module) -> Payload:
    target = program_target(program)
    module = sys.modules.get(type(program).__module__)
    default = settings.get("lm")
    if default is None:
        try:
            default = current_lm()
        except Exception:  # no default LM: fine when every predictor has its own
            default = None
    payload = Payload(
        target=target,
        cwd_target=_relative_to_cwd(target),
        state=program.dump_state(),
        lms={path: lm_spec(p.lm, module) for path, p in program.named_predictors()},
        default_lm=lm_spec(default, module),
        values={key: settings.get(key) for key in SHIPPED_SETTINGS if key in settings.DEFAULTS},
        objects={key: _object_spec(settings.get(key), module) for key in SHIPPED_OBJECTS
                 if settings.get(key) is not None},
        fingerprint=fingerprint(program),
    )
    payload.digest = _digest(payload)
    return payload


def lm_spec(lm: Any, module: Any) -> dict[str, Any] | None:
    """How a replica builds ``lm``: a module-level object of the program's module by name, else its
    class (importable, ``cls(model, **params)``) with its parameters. Wrappers that keep the real
    LM as ``.lm`` (Calibrate's memo) are looked through: replicas call the real model."""
    if lm is None:
        return None
    while not isinstance(lm, LM) and isinstance(getattr(lm, "lm", None), LM):
        lm = lm.lm
    name = _attr_name(lm, module)
    if name:
        return {"attr": name}
    if not isinstance(getattr(lm, "model", None), str):
        raise ConfigError(f"ray executor: cannot send {lm!r} to the workers: it is not an lmdsl LM; define it at "
                          "module level in the program's module so that the workers import it")
    cls = type(lm)
    if "<locals>" in cls.__qualname__:
        raise ConfigError(f"ray executor: LM class {cls.__qualname__} is defined inside a function; workers "
                          "cannot import it")
    return {"class": f"{cls.__module__}:{cls.__qualname__}", "model": lm.model, "params": dict(lm.kwargs),
            "cache": getattr(lm, "cache", True), "num_retries": getattr(lm, "num_retries", 3),
            "model_sha256": getattr(lm, "model_sha256", None)}


def _object_spec(obj: Any, module: Any) -> dict[str, Any]:
    name = _attr_name(obj, module)
    return {"attr": name} if name else {"object": obj}


def _attr_name(obj: Any, module: Any) -> str | None:
    if module is None:
        return None
    for name, value in vars(module).items():
        if value is obj and not name.startswith("__"):
            return name
    return None


def fingerprint(program: Module) -> dict[str, str]:
    """Plain settings of every module in the program (not the learned state, which travels)."""
    out: dict[str, str] = {}
    for path, module in [("", program), *program.named_modules()]:
        for name, value in vars(module).items():
            if name.startswith("_") or name in _LEARNED:
                continue
            if value is None or isinstance(value, str | int | float | bool):
                out[f"{path}.{name}" if path else name] = repr(value)
    return out


def _relative_to_cwd(target: str) -> str | None:
    file, sep, attr = target.rpartition(":")
    if not sep or not file.endswith(".py"):
        return None
    try:
        rel = os.path.relpath(file, os.getcwd())
    except ValueError:
        return None
    return None if rel.startswith("..") else f"{rel}:{attr}"


def _digest(payload: Payload) -> str:
    blob = json.dumps({"target": payload.target, "state": payload.state, "lms": payload.lms,
                       "default": payload.default_lm, "values": payload.values,
                       "fingerprint": payload.fingerprint,
                       "objects": {k: v.get("attr") or id(v.get("object")) for k, v in payload.objects.items()}},
                      sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ---- on the replica -------------------------------------------------------------------------------
class Built:
    """A program rebuilt on a replica, with what it runs under."""

    def __init__(self, program: Module, context: dict[str, Any]):
        self.program = program
        self.context = context
        self.paths = {id(p): path for path, p in program.named_predictors()}


def rebuild(payload: Payload, lms: dict[str, Any]) -> Built:
    """Build the program the payload describes; ``lms`` caches LMs by spec (one per replica)."""
    module, program = _instantiate(payload)
    program.load_state(payload.state, trust_file=True)  # the driver's own state, not a file from elsewhere
    differences = _differences(payload.fingerprint, fingerprint(program))
    if differences:
        raise ConfigError(f"ray executor: the program built from {payload.target} on the workers differs from the "
                          f"one being run ({differences}); build it with a zero-argument factory and "
                          "lmdsl.executors.set_program_target(program, 'pkg.module:factory')")
    for path, p in program.named_predictors():
        spec = payload.lms.get(path)
        p.lm = _build_lm(spec, module, lms) if spec is not None else None
    context = dict(payload.values)
    context["lm"] = _build_lm(payload.default_lm, module, lms) if payload.default_lm else None
    for key, spec in payload.objects.items():
        context[key] = getattr(module, spec["attr"]) if "attr" in spec else spec["object"]
    context["executor"] = "threads"  # a program that evaluates inside itself stays on this replica
    return Built(program, context)


def _instantiate(payload: Payload) -> tuple[Any, Any]:
    # Target resolution is the CLI's (cli/targets.py): a replica is an entry point like the CLI.
    import click

    from lmdsl.cli.targets import instantiate_program

    target = payload.target
    file = target.rpartition(":")[0]
    if file.endswith(".py") and not Path(file).is_file() and payload.cwd_target:
        target = payload.cwd_target  # a Ray job's working_dir copy of the driver's folder
    ship = ("install it on every node, or ship it with a Ray runtime_env / `ray job submit --working-dir`")
    try:
        module, program = instantiate_program(target)
    except click.ClickException as exc:
        message = exc.format_message().split(" (use ")[0]
        if message.startswith(("no module named", "file not found")):
            raise ConfigError(f"ray executor: workers cannot import program {target}: {message} ({ship})") from None
        raise ConfigError(f"ray executor: workers cannot build program {target}: {message}") from None
    except Exception as exc:
        raise ConfigError(f"ray executor: workers cannot import program {target}: {type(exc).__name__}: {exc} "
                          f"({ship})") from None
    return sys.modules.get(type(program).__module__, module), program


def _differences(driver: dict[str, str], worker: dict[str, str]) -> str:
    keys = sorted(set(driver) | set(worker))
    diffs = [f"{k}: {driver.get(k, '(none)')} here, {worker.get(k, '(none)')} there"
             for k in keys if driver.get(k) != worker.get(k)]
    return "; ".join(diffs[:3]) + (f"; {len(diffs) - 3} more" if len(diffs) > 3 else "")


def _build_lm(spec: dict[str, Any], module: Any, lms: dict[str, Any]) -> Any:
    if "attr" in spec:
        return getattr(module, spec["attr"])
    key = json.dumps(spec, sort_keys=True, default=repr)
    if key not in lms:
        mod_name, _, qual = spec["class"].partition(":")
        try:
            cls: Any = importlib.import_module(mod_name)
            for part in qual.split("."):
                cls = getattr(cls, part)
            lm = cls(spec["model"], **spec["params"])
        except Exception as exc:
            raise ConfigError(f"ray executor: workers cannot build LM {spec['class']}({spec['model']!r}): "
                              f"{type(exc).__name__}: {exc} (define the LM at module level in the program's "
                              "module, or make cls(model, **params) work)") from None
        lm.cache = spec.get("cache", True)
        lm.num_retries = spec.get("num_retries", 3)
        lm.model_sha256 = spec.get("model_sha256")
        lms[key] = lm
    return lms[key]
