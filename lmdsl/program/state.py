"""Save and load a program's learned state as versioned JSON. Loading is all-or-nothing.

A compiled file is data, never code or configuration of where keys go: it holds
instructions, demos, label biases and, per predictor, a model name with allow-listed
generation settings (:mod:`lmdsl.utils.secrets`). Everything is checked against the program's
predictors (paths, signature structure, field types) before anything is changed. Never
pickle; nothing the file names is imported or called here.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmdsl.errors import DataError, LoadError, UsageError

if TYPE_CHECKING:
    from lmdsl.lm.protocol import LanguageModel
    from lmdsl.program.module import Module
    from lmdsl.program.predictor import Predictor

FORMAT = 1
# provider/model, where the model part may be a file path (tuned local models) but never a URL
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_.\-]+/[^\x00-\x1f]+$")


def _jsonable_demo(demo: Any) -> dict[str, Any]:
    from lmdsl.values.render import to_jsonable

    data = demo.to_dict() if hasattr(demo, "to_dict") else dict(demo)
    return {k: to_jsonable(v) for k, v in data.items()}


def program_state(program: Module) -> dict[str, Any]:
    from lmdsl import __version__

    predictors = {}
    for path, p in program.named_predictors():
        lm = p.lm.describe() if p.lm is not None and hasattr(p.lm, "describe") else None
        predictors[path] = {
            "type": type(p).__name__,
            "signature_hash": p.signature.structure_hash,
            "signature": p.signature.describe(),
            "instructions": p.signature.instructions,
            "demos": [_jsonable_demo(d) for d in p.demos],
            "lm": _savable_lm(lm),
        }
        bias = getattr(p, "label_bias", None)
        if bias is not None:
            predictors[path]["label_bias"] = dict(bias)
    return {"lmdsl": {"version": __version__, "format": FORMAT}, "predictors": predictors}


def _savable_lm(lm: dict[str, Any] | None) -> dict[str, Any] | None:
    """An LM's description cut to the allow-list, whatever a custom ``describe()`` returned."""
    if lm is None:
        return None
    from lmdsl.utils.secrets import savable_params

    kept = {"model": lm.get("model"), **savable_params(lm)}
    if lm.get("model_sha256"):
        kept["model_sha256"] = lm["model_sha256"]
    return kept


def _check_finite(value: Any, where: str) -> None:
    """NaN and infinities are not JSON: refuse them by name instead of writing an unreadable file."""
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{where} is {value}, which JSON cannot hold")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]")


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write via a temp file and rename, so an interrupted save never leaves half a file."""
    _check_finite(data, path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_program(program: Module, path: str | Path, *, target: str | None = None,
                 metadata: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    data = program_state(program)
    if target:
        data["program"] = target
    if metadata:
        data["metadata"] = metadata
    write_json_atomic(path, data)
    return path


def _no_constants(name: str) -> Any:
    raise DataError(f"{name} is not a JSON number")


def read_state(path: str | Path) -> dict[str, Any]:
    """The checked contents of a compiled file; LoadError naming the file and key otherwise."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LoadError(f"{path}: no such file") from None
    except OSError as exc:
        raise LoadError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(f"{path}: not UTF-8 text (byte {exc.start}); a compiled program file is JSON") from None
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise LoadError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except ValueError as exc:  # NaN / Infinity, which Python's json would otherwise accept
        raise LoadError(f"{path}: not valid JSON ({exc})") from None
    return check_state(data, path)


def check_state(data: Any, path: Any) -> dict[str, Any]:
    """``data`` if it is an lmdsl state this version understands, every entry of the right
    shape (``path`` names the source in errors)."""
    if not isinstance(data, dict) or "predictors" not in data or "lmdsl" not in data:
        raise LoadError(f"{path}: not an lmdsl program file (no 'lmdsl'/'predictors' keys)")
    header = data["lmdsl"]
    if not isinstance(header, dict):
        raise LoadError(f"{path}: 'lmdsl' must be an object with the file 'format', got {_kind(header)}")
    fmt = header.get("format")
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise LoadError(f"{path}: 'lmdsl.format' must be a whole number >= 1, got {fmt!r}")
    if fmt > FORMAT:
        raise LoadError(f"{path}: file format {fmt!r} is newer than this lmdsl understands ({FORMAT}); upgrade lmdsl")
    if not isinstance(data["predictors"], dict):
        raise LoadError(f"{path}: 'predictors' must be an object of predictor entries, got {_kind(data['predictors'])}")
    for name, entry in data["predictors"].items():
        _check_entry(path, name, entry)
    if not isinstance(data.get("program", ""), str):
        raise LoadError(f"{path}: 'program' must be text (module:Class), got {_kind(data['program'])}")
    if not isinstance(data.get("metadata") or {}, dict):
        raise LoadError(f"{path}: 'metadata' must be an object, got {_kind(data['metadata'])}")
    return data


def _kind(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} {json.dumps(value)[:40]}"


def _check_entry(path: Any, name: str, entry: Any) -> None:
    where = f"{path}: predictor '{name}'"
    if not isinstance(entry, dict):
        raise LoadError(f"{where} must be an object, got {_kind(entry)}")
    expected = {"instructions": str, "signature_hash": str, "type": str, "signature": dict}
    for key, tp in expected.items():
        if key in entry and entry[key] is not None and not isinstance(entry[key], tp):
            raise LoadError(f"{where}: '{key}' must be {_TYPE_NAMES[tp]}, got {_kind(entry[key])}")
    demos = entry.get("demos")
    if not isinstance(demos, list) or not all(isinstance(d, dict) for d in demos):
        raise LoadError(f"{where}: 'demos' must be a list of objects")
    lm_state = entry.get("lm")
    if lm_state is not None and not (isinstance(lm_state, dict) and isinstance(lm_state.get("model"), str)):
        raise LoadError(f"{where}: 'lm' must be null or an object with a 'model' name, got {_kind(lm_state)}")


_TYPE_NAMES = {str: "text", dict: "an object"}


def load_program(program: Module, path: str | Path, *, trust_file: bool = False) -> dict[str, str]:
    """Load ``path`` into ``program`` (all or nothing); see :func:`apply_state`."""
    return apply_state(program, read_state(path), path, trust_file=trust_file)


def apply_state(program: Module, data: dict[str, Any], path: Any, *, trust_file: bool = False) -> dict[str, str]:
    """Set every predictor's instructions, demos, LM and label bias from checked ``data``, or
    nothing at all when anything does not match (``path`` names the source in errors).

    Returns {predictor path: model} for every predictor whose LM the state set. An ``lm``
    entry may carry only a model name and allow-listed generation settings; anything that
    decides where requests and keys go (``api_base``, ``headers``, credentials...) is refused
    unless ``trust_file=True``.
    """
    from lmdsl.lm import LM
    from lmdsl.primitives import Example

    saved = data["predictors"]
    current = dict(program.named_predictors())
    missing = [p for p in current if p not in saved]
    extra = [p for p in saved if p not in current]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"program predictor(s) not in file: {', '.join(missing)}")
        if extra:
            parts.append(f"file predictor(s) not in program: {', '.join(extra)}")
        raise LoadError(f"{path}: predictors do not match ({'; '.join(parts)})")
    plan = []
    for name, pred in current.items():
        entry = saved[name]
        if entry.get("signature_hash") != pred.signature.structure_hash:
            raise LoadError(
                f"{path}: predictor '{name}' has signature {pred.signature!r} but the file was saved "
                f"for {_describe_saved(entry)}"
            )
        demos = entry["demos"]
        for i, demo in enumerate(demos):
            _check_demo(path, name, i, demo, pred.signature)
        lm_state = entry.get("lm")
        lm = None
        if lm_state and not _same_model(pred.lm, lm_state):
            # The file names a model but never its secrets: an LM the program already has for
            # that model (with its api_key) is kept rather than replaced by a key-less copy.
            params = _lm_params(path, name, lm_state, trust_file)
            _check_model_file(path, name, lm_state)
            lm = LM(lm_state["model"], **params)
            lm.model_sha256 = lm_state.get("model_sha256")
        bias = _label_bias(path, name, pred, entry.get("label_bias"))
        plan.append((pred, pred.signature.with_instructions(entry.get("instructions") or ""),
                     [Example(d) for d in demos], lm, bias))
    set_models = {}
    for (name, _), (pred, signature, demos, lm, bias) in zip(current.items(), plan, strict=True):
        # nothing changes until every check passed
        pred.signature = signature
        pred.demos = demos
        if hasattr(pred, "label_bias"):
            pred.label_bias = bias
        if lm is not None:
            pred.lm = lm
            set_models[name] = lm.model
    return set_models


def _lm_params(path: Any, name: str, lm_state: dict[str, Any], trust_file: bool) -> dict[str, Any]:
    """The LM settings a file may set: the allow-list, checked, unless the user trusts the file."""
    from lmdsl.utils.secrets import GENERATION_PARAMS, check_param_value

    where = f"{path}: predictor '{name}': 'lm'"
    model = lm_state["model"]
    params = {k: v for k, v in lm_state.items() if k not in ("model", "model_sha256")}
    if trust_file:
        return params
    if not _MODEL_NAME.match(model) or "://" in model:
        raise LoadError(f"{where}: model {model!r} is not a provider/model name")
    digest = lm_state.get("model_sha256")
    if digest is not None and not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
        raise LoadError(f"{where}: 'model_sha256' must be 64 hex digits")
    refused = sorted(k for k in params if k not in GENERATION_PARAMS)
    if refused:
        raise LoadError(
            f"{where} sets {', '.join(map(repr, refused))}, which a compiled file may not set: it could send "
            f"requests (and your API key) elsewhere. A file may carry only the model name and generation "
            f"settings ({', '.join(sorted(GENERATION_PARAMS))}). If you trust this file, load it with "
            f"trust_file=True (CLI: --trust-file)"
        )
    for key, value in params.items():
        why = check_param_value(key, value)
        if why:
            raise LoadError(f"{where}: '{key}' is {json.dumps(value)}: {why}")
    return params


def _check_demo(path: Any, name: str, index: int, demo: dict[str, Any], signature: Any) -> None:
    """A demo's value for a signature field must fit the field's type (it is shown as an example)."""
    for key, value in demo.items():
        field = signature.fields.get(key)
        if field is None:
            continue
        why = _value_problem(value, field.type)
        if why:
            raise LoadError(f"{path}: predictor '{name}' demo {index}: '{key}' is {json.dumps(value)[:60]}, "
                            f"expected {why}")


def _value_problem(value: Any, tp: Any) -> str | None:
    """What ``value`` (as JSON gives it) should have been for annotation ``tp``, or None if it fits."""
    from typing import Any as AnyType

    from lmdsl.values.describe import type_repr
    from lmdsl.values.introspect import is_structured

    if tp is AnyType or tp is None:
        return None
    if tp is str:
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        return None if ok else "text"
    if is_structured(tp):
        return None if isinstance(value, dict | list) else f"a JSON object for {type_repr(tp)}"
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(tp).validate_python(value)
    except ValidationError:
        return type_repr(tp)
    except Exception:  # a type pydantic cannot check: rendered as it is, like any other value
        return None
    return None


def _label_bias(path: Any, name: str, pred: Predictor, bias: Any) -> dict[str, float] | None:
    """A saved ``label_bias``, checked against the labels the predictor's signature allows."""
    if bias is None:
        return None
    from lmdsl.signatures.labels import label_field, labels

    if not isinstance(bias, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in bias.values()
    ):
        raise LoadError(f"{path}: predictor '{name}': 'label_bias' must be an object of finite numbers, "
                        f"got {bias!r}")
    field = label_field(pred.signature) if hasattr(pred, "label_bias") else None
    if field is None:
        raise LoadError(f"{path}: predictor '{name}': 'label_bias' is saved but its signature "
                        f"{pred.signature!r} has no single label output")
    allowed = [text for text, _ in labels(field)]
    unknown = [k for k in bias if k not in allowed]
    if unknown:
        raise LoadError(f"{path}: predictor '{name}': 'label_bias' names unknown label(s) "
                        f"{', '.join(map(repr, unknown))}; labels are {', '.join(map(repr, allowed))}")
    return {k: float(v) for k, v in bias.items()}


def _same_model(lm: LanguageModel | None, lm_state: dict[str, Any]) -> bool:
    return lm is not None and getattr(lm, "model", None) == lm_state.get("model") and not lm_state.get("model_sha256")


def _check_model_file(path: Any, name: str, lm_state: dict[str, Any]) -> None:
    """A fine-tuned model is named by path and hash: refuse a missing or altered file."""
    digest = lm_state.get("model_sha256")
    if not digest:
        return
    import hashlib

    model_path = Path(lm_state["model"].split("/", 1)[1])
    if not model_path.is_file():
        raise LoadError(f"{path}: predictor '{name}' needs model file {model_path}, which is missing")
    h = hashlib.sha256()
    with model_path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != digest:
        raise LoadError(f"{path}: predictor '{name}': model file {model_path} was altered (sha256 differs)")


def _describe_saved(entry: dict[str, Any]) -> str:
    sig = entry.get("signature") or {}
    ins = ", ".join(f"{f.get('name')}: {f.get('type')}" for f in sig.get("inputs", []) if isinstance(f, dict))
    outs = ", ".join(f"{f.get('name')}: {f.get('type')}" for f in sig.get("outputs", []) if isinstance(f, dict))
    return f"({ins} -> {outs})"
