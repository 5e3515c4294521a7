"""`ProgramOfThought`: the model writes Python, a sandbox runs it, the result gives the answer.

1. ``generate`` (a ChainOfThought, or a Predict with ``reasoning=False``) writes code;
2. the code runs in :class:`lmdsl.sandbox.Sandbox` (CPython on WebAssembly in a locked-down
   process: no host files, no environment, no network, time/memory/output limits);
3. on an error, a timeout, no usable result or an unreadable reply, ``regenerate`` sees
   the previous code and the error text and writes new code -- up to ``max_iters``
   attempts in all, after which :class:`ProgramOfThoughtError` says what failed last;
4. the outputs come from the code's result: parsed directly into the output type when the
   signature has one closed-typed output (a number, a bool, a label), otherwise through an
   ``extract`` ChainOfThought that reads the code and its output.
"""

from __future__ import annotations

import copy
import re
import threading
from typing import Any

from lmdsl.errors import (
    ParseError,
    ProgramOfThoughtError,
    SignatureError,
    UsageError,
    ValueParseError,
)
from lmdsl.predict.chain_of_thought import ChainOfThought
from lmdsl.predict.predict import Predict
from lmdsl.primitives import Prediction
from lmdsl.program import Module
from lmdsl.signatures import Field, Signature, as_signature
from lmdsl.values import describe_type, is_closed_type, parse_value, render_value
from lmdsl.values.introspect import optional_inner

CODE = "generated_code"
PREVIOUS_CODE = "previous_code"
ERROR = "error"
OUTPUT = "code_output"
_RESERVED = (CODE, PREVIOUS_CODE, ERROR, OUTPUT)
MAX_ERROR_CHARS = 1200

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


class ProgramOfThought(Module):
    """``ProgramOfThought(signature, max_iters=3)``; call it with the signature's inputs.

    ``sandbox`` is a :class:`lmdsl.sandbox.Sandbox` (or anything with the same ``run``);
    by default one shared sandbox per ``(timeout, memory_mb)`` is started on first use.
    ``extract=None`` parses the result directly when there is a single closed-typed output
    and uses the extract step otherwise; ``True``/``False`` force one way.
    ``reasoning=False`` makes the code writers plain Predicts (code first, no reasoning
    field: a small model's reasoning can use up the token budget before any code). Other keyword
    arguments (``max_tokens=``, ``temperature=``, ``lm=``...) go to the inner predictors.

    The Prediction holds the outputs plus ``reasoning``, ``generated_code`` (the code that
    ran), ``code_output`` (its stdout and value) and ``attempts`` (``{"code", "error"}`` per
    run; ``error`` is None for the successful one).
    """

    def __init__(
        self,
        signature: Any,
        max_iters: int = 3,
        *,
        sandbox: Any = None,
        timeout: float = 10.0,
        memory_mb: int = 256,
        extract: bool | None = None,
        reasoning: bool = True,
        **config: Any,
    ):
        if max_iters < 1:
            raise UsageError("ProgramOfThought: max_iters must be at least 1")
        base = as_signature(signature)
        clash = [n for n in _RESERVED if n in base.fields]
        if clash:
            raise SignatureError(f"ProgramOfThought: the signature may not use the field name(s) {', '.join(clash)}")
        self.signature = base
        self.max_iters = max_iters
        self.sandbox = sandbox
        self.timeout = timeout
        self.memory_mb = memory_mb
        outputs = list(base.outputs.values())
        direct_ok = len(outputs) == 1 and _closed(outputs[0].type)
        if extract is False and not direct_ok:
            raise SignatureError(
                "ProgramOfThought: extract=False needs a single output of a closed type (number, bool, label)"
            )
        self.direct = direct_ok if extract is None else not extract
        writer = ChainOfThought if reasoning else Predict
        self.generate = writer(_generate_signature(base), **config)
        self.regenerate = writer(_regenerate_signature(base), **config)
        self.extract = ChainOfThought(_extract_signature(base), **config)

    def __deepcopy__(self, memo: dict[int, Any]) -> ProgramOfThought:
        # The sandbox (worker processes) is shared by copies; predictors are copied.
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            new.__dict__[key] = value if key == "sandbox" else copy.deepcopy(value, memo)
        return new

    def _sandbox(self) -> Any:
        return self.sandbox if self.sandbox is not None else shared_sandbox(self.timeout, self.memory_mb)

    # ---- the loop ---------------------------------------------------------------------
    def forward(self, **inputs: Any) -> Prediction:
        attempts: list[dict[str, Any]] = []
        for _ in range(self.max_iters):
            try:
                if not attempts:
                    step = self.generate(**inputs)
                else:
                    last = attempts[-1]
                    step = self.regenerate(**inputs, **{PREVIOUS_CODE: last["code"] or "(none)", ERROR: last["error"]})
            except ParseError as exc:  # no readable code even after re-asking: one failed attempt
                attempts.append({"code": clean_code(exc.completion), "error": f"the reply could not be read ({exc})"})
                continue
            code = clean_code(step[CODE])
            if not code:
                attempts.append({"code": "", "error": "the reply contained no code"})
                continue
            error, outputs, output_text = self._outcome(self._sandbox().run(code))
            attempts.append({"code": code, "error": error})
            if error is None:
                return self._finish(inputs, step, code, output_text, outputs, attempts)
        raise ProgramOfThoughtError(
            f"ProgramOfThought: no working code after {len(attempts)} attempt(s) (max_iters={self.max_iters}); "
            f"last error: {_first_line(attempts[-1]['error'])}",
            code=attempts[-1]["code"],
            error=attempts[-1]["error"],
            attempts=attempts,
        )

    def _outcome(self, result: Any) -> tuple[str | None, dict[str, Any] | None, str]:
        """(error text for the model or None, directly parsed outputs or None, output text)."""
        if result.error is not None:
            return _error_text(result), None, ""
        output_text = format_output(result.stdout, result.value)
        if result.value is None and not result.stdout.strip():
            return (
                "the code ran but produced no result: end it with an expression whose value is the answer, "
                "or print the answer"
            ), None, output_text
        if not self.direct:
            return None, None, output_text
        field = next(iter(self.signature.outputs.values()))
        text = render_value(result.value) if result.value is not None else _last_line(result.stdout)
        try:
            return None, {field.name: parse_value(text, field.type, field.name)}, output_text
        except ValueParseError as exc:
            want = describe_type(field.type) or field.name
            return f"the code ran, but its result {text!r} is not {want} ({exc})", None, output_text

    def _finish(self, inputs: dict[str, Any], step: Prediction, code: str, output_text: str,
                outputs: dict[str, Any] | None, attempts: list[dict[str, Any]]) -> Prediction:
        reasoning = step.get("reasoning", "")
        if outputs is None:
            extracted = self.extract(**inputs, **{CODE: code, OUTPUT: output_text})
            outputs = {name: extracted[name] for name in self.signature.outputs}
            reasoning = extracted.get("reasoning", reasoning)
        # Outputs last: majority() votes over the last field by default.
        return Prediction({"attempts": attempts, "reasoning": reasoning, CODE: code, OUTPUT: output_text, **outputs})


# ---- the shared default sandbox -----------------------------------------------------------
_shared: dict[tuple[float, int], Any] = {}
_shared_lock = threading.Lock()


def shared_sandbox(timeout: float = 10.0, memory_mb: int = 256) -> Any:
    """One process-wide Sandbox per limits, started lazily (every run still gets a fresh worker)."""
    key = (float(timeout), int(memory_mb))
    with _shared_lock:
        sandbox = _shared.get(key)
        if sandbox is None:
            from lmdsl.sandbox import Sandbox

            sandbox = _shared[key] = Sandbox(timeout=timeout, memory_mb=memory_mb)
        return sandbox


# ---- text helpers -------------------------------------------------------------------------
def clean_code(text: Any) -> str:
    """The code in a reply: the first fenced block if any, without surrounding backticks."""
    text = str(text or "").strip()
    m = _FENCE.search(text)
    if m:
        text = m.group(1)
    text = text.strip()
    if len(text) > 1 and text.startswith("`") and text.endswith("`") and "\n" not in text:
        text = text.strip("`").strip()
    return text


def format_output(stdout: str, value: Any) -> str:
    parts = [stdout.rstrip("\n")] if stdout.strip() else []
    if value is not None:
        parts.append(render_value(value))
    return "\n".join(parts) if parts else "(no output)"


def _error_text(result: Any) -> str:
    """The error for the model: the traceback's tail when there is one, else the one-line error."""
    error = result.error or "error"
    tb = (getattr(result, "stderr", "") or "").strip()
    if not tb:
        return error
    if len(tb) > MAX_ERROR_CHARS:
        tb = "..." + tb[-MAX_ERROR_CHARS:]
    return tb if error in tb else f"{tb}\n{error}"


def _first_line(text: str) -> str:
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _last_line(text: str) -> str:
    return _first_line(text)


def _closed(tp: Any) -> bool:
    inner = optional_inner(tp)
    return is_closed_type(inner if inner is not None else tp)


# ---- signatures -------------------------------------------------------------------------
_RULES = (
    "The code runs in a sandbox with the Python standard library only: no files, no network, no input(). "
    "Make its last line an expression whose value is the answer (or print the answer). "
    "Statements may be separated by semicolons, e.g. `total = 3 * 12; total - 5`."
)


def _targets(base: Signature) -> str:
    return ", ".join(f"`{n}`" for n in base.outputs)


def _generate_signature(base: Signature) -> Signature:
    instructions = f"{base.instructions}\n\nWrite Python code that computes {_targets(base)}. {_RULES}"
    return Signature(
        list(base.inputs.values()),
        [Field(CODE, str, "Python code that computes the answer", "output")],
        instructions,
        f"{base.name}_code",
    )


def _regenerate_signature(base: Signature) -> Signature:
    instructions = (
        f"{base.instructions}\n\nYour previous Python code for {_targets(base)} failed with the error shown. "
        f"Write corrected code. {_RULES}"
    )
    return Signature(
        [
            *base.inputs.values(),
            Field(PREVIOUS_CODE, str, "the code that failed", "input"),
            Field(ERROR, str, "what went wrong when it ran", "input"),
        ],
        [Field(CODE, str, "corrected Python code that computes the answer", "output")],
        instructions,
        f"{base.name}_fix_code",
    )


def _extract_signature(base: Signature) -> Signature:
    instructions = (
        f"{base.instructions}\n\nPython code was written for this task and run; "
        f"use the code and its output to produce {_targets(base)}."
    )
    return Signature(
        [
            *base.inputs.values(),
            Field(CODE, str, "the code that ran", "input"),
            Field(OUTPUT, str, "what it printed and its final value", "input"),
        ],
        list(base.outputs.values()),
        instructions,
        f"{base.name}_from_code",
    )
