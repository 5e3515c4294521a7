"""Save and load a program's learned state as versioned JSON. Loading is all-or-nothing.

Never pickle: the file holds instructions, demos and LM names, checked against the
program's predictors (paths and signature structure) before anything is changed.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from lmdsl.errors import LoadError

FORMAT = 1


def _jsonable_demo(demo: Any) -> dict[str, Any]:
    from lmdsl.values.render import _jsonable

    data = demo.to_dict() if hasattr(demo, "to_dict") else dict(demo)
    return {k: _jsonable(v) for k, v in data.items()}


def program_state(program: Any) -> dict[str, Any]:
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
            "lm": lm,
        }
        bias = getattr(p, "label_bias", None)
        if bias is not None:
            predictors[path]["label_bias"] = dict(bias)
    return {"lmdsl": {"version": __version__, "format": FORMAT}, "predictors": predictors}


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write via a temp file and rename, so an interrupted save never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_program(program: Any, path: str | Path, *, target: str | None = None,
                 metadata: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    data = program_state(program)
    if target:
        data["program"] = target
    if metadata:
        data["metadata"] = metadata
    write_json_atomic(path, data)
    return path


def read_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoadError(f"{path}: no such file") from None
    except OSError as exc:
        raise LoadError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    return check_state(data, path)


def check_state(data: Any, path: Any) -> dict[str, Any]:
    """``data`` if it is an lmdsl state this version understands (``path`` names it in errors)."""
    if not isinstance(data, dict) or "predictors" not in data or not isinstance(data.get("lmdsl"), dict):
        raise LoadError(f"{path}: not an lmdsl program file (no 'lmdsl'/'predictors' keys)")
    fmt = data["lmdsl"].get("format")
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise LoadError(f"{path}: file format {fmt!r} is newer than this lmdsl understands ({FORMAT}); upgrade lmdsl")
    if not isinstance(data["predictors"], dict) or not all(isinstance(v, dict) for v in data["predictors"].values()):
        raise LoadError(f"{path}: 'predictors' must be an object of objects")
    return data


def load_program(program: Any, path: str | Path) -> None:
    apply_state(program, read_state(path), path)


def apply_state(program: Any, data: dict[str, Any], path: Any) -> None:
    """Set every predictor's instructions, demos, LM and label bias from checked ``data``, or
    nothing at all when any predictor does not match (``path`` names the source in errors)."""
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
        demos = entry.get("demos")
        if not isinstance(demos, list) or not all(isinstance(d, dict) for d in demos):
            raise LoadError(f"{path}: predictor '{name}': 'demos' must be a list of objects")
        lm_state = entry.get("lm")
        if lm_state and not (isinstance(lm_state, dict) and isinstance(lm_state.get("model"), str)):
            raise LoadError(f"{path}: predictor '{name}': 'lm' must be an object with a 'model' name")
        lm = None
        if lm_state and not _same_model(pred.lm, lm_state):
            # The file names a model but never its secrets: an LM the program already has for
            # that model (with its api_key) is kept rather than replaced by a key-less copy.
            params = {k: v for k, v in lm_state.items() if k not in ("model", "model_sha256")}
            _check_model_file(path, name, lm_state)
            lm = LM(lm_state["model"], **params)
            lm.model_sha256 = lm_state.get("model_sha256")
        bias = _label_bias(path, name, pred, entry.get("label_bias"))
        plan.append((pred, pred.signature.with_instructions(entry.get("instructions", "")),
                     [Example(d) for d in demos], lm, bias))
    for pred, signature, demos, lm, bias in plan:  # nothing changes until every check passed
        pred.signature = signature
        pred.demos = demos
        if hasattr(pred, "label_bias"):
            pred.label_bias = bias
        if lm is not None:
            pred.lm = lm


def _label_bias(path: Any, name: str, pred: Any, bias: Any) -> dict[str, float] | None:
    """A saved ``label_bias``, checked against the labels the predictor's signature allows."""
    if bias is None:
        return None
    from lmdsl.signatures.labels import label_field, labels

    if not isinstance(bias, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in bias.values()
    ):
        raise LoadError(f"{path}: predictor '{name}': 'label_bias' must be an object of numbers, got {bias!r}")
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


def _same_model(lm: Any, lm_state: dict[str, Any]) -> bool:
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
    ins = ", ".join(f"{f['name']}: {f['type']}" for f in sig.get("inputs", []))
    outs = ", ".join(f"{f['name']}: {f['type']}" for f in sig.get("outputs", []))
    return f"({ins} -> {outs})"
