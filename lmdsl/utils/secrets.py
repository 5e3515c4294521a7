"""What of an LM may be written down or read back, and keeping key values out of text.

Two rules, used by saving AND loading compiled files, history and error messages:

* An allow-list, not a deny-list: only the generation settings in :data:`GENERATION_PARAMS`
  are saved with a program or accepted from a compiled file. Anything else an LM carries
  (``api_key``, ``api_base``, ``headers``, ``client_secret``, ``aws_web_identity_token``...)
  either is a credential or decides where a request and its key go, so a file may not set it
  (unless the user opts in with ``trust_file``).
* Key values are scrubbed from text: the LM's credential-like params, the values of
  key-like environment variables (``OPENAI_API_KEY``, ``AWS_SECRET_ACCESS_KEY``...), and
  strings shaped like common keys (``Bearer ...``, ``sk-...``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"

# Settings that shape what the model generates and nothing else: no endpoint, header,
# credential, client object or provider routing.
GENERATION_PARAMS = frozenset(
    {
        "temperature", "max_tokens", "max_completion_tokens", "top_p", "top_k", "min_p", "n", "stop",
        "seed", "presence_penalty", "frequency_penalty", "repetition_penalty", "repeat_penalty",
        "logit_bias", "logprobs", "top_logprobs", "reasoning_effort", "rollout_id",
    }
)

_CREDENTIAL_NAME = re.compile(r"key|secret|token|password|passwd|credential|auth|cookie|header|cert",
                              re.IGNORECASE)
_SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
_KEY_SHAPES = re.compile(
    r"\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{8,}"  # authorization header values
    r"|\bsk-[A-Za-z0-9_\-]{8,}"  # OpenAI / Anthropic style keys
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bAIza[0-9A-Za-z_\-]{30,}"  # Google API keys
    r"|\bhf_[A-Za-z0-9]{20,}"  # Hugging Face tokens
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"  # user:password@ in a URL
)
# Every key shape above starts with one of these: texts without any skip the regex (which,
# starting with \b, would otherwise be tried at every position of every history entry).
_SHAPE_MARKERS = ("Bearer", "Basic", "sk-", "AKIA", "AIza", "hf_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox",
                  "@")
# Shorter values would redact ordinary words (``api_key="x"`` for a local server is common).
MIN_SECRET_LENGTH = 8


def savable_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The params that may be written into a compiled file (an allow-list)."""
    return {k: v for k, v in params.items() if k in GENERATION_PARAMS}


def refused_params(params: Mapping[str, Any]) -> list[str]:
    """Names in ``params`` a compiled file may not set without the user's opt-in."""
    return sorted(k for k in params if k not in GENERATION_PARAMS)


_WHOLE_NUMBERS = ("max_tokens", "max_completion_tokens", "n", "top_k", "top_logprobs")


def check_param_value(name: str, value: Any) -> str | None:
    """Why a saved generation setting's value is unusable (``None`` when it is fine)."""
    if value is None:
        return None
    if name == "stop":
        ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(s, str) for s in value))
        return None if ok else "expected text or a list of texts"
    if name == "logit_bias":
        ok = isinstance(value, dict) and all(_finite(v) for v in value.values())
        return None if ok else "expected an object of numbers"
    if name == "reasoning_effort":
        return None if isinstance(value, str) else "expected text"
    if name == "logprobs":
        return None if isinstance(value, bool) else "expected true or false"
    if name == "rollout_id":
        ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
        return None if ok else "expected a number or text"
    if name in _WHOLE_NUMBERS or name == "seed":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= (0 if name == "seed" else 1)
        return None if ok else "expected a whole number" + (" >= 0" if name == "seed" else " >= 1")
    return None if _finite(value) else "expected a finite number"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _strings(value: Any) -> list[str]:
    """Every string in ``value`` and the mappings, lists and tuples inside it (in no set order).
    A loop over a stack, dispatching on the exact type first: this runs over each LM call's
    history entry, where recursion and abstract-class checks cost more than the search it feeds."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            found.append(item)
        elif kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind in _SCALARS:
            continue
        elif isinstance(item, str):
            found.append(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


_SCALARS = frozenset({int, float, bool, type(None)})


def secret_values(params: Mapping[str, Any] | None = None) -> list[str]:
    """Key values to keep out of text: credential-like params (``api_key``, ``headers``...)
    and key-like environment variables. Longest first, so a key containing another goes whole."""
    found: set[str] = set()
    for name, value in (params or {}).items():
        if name not in GENERATION_PARAMS and _CREDENTIAL_NAME.search(name):
            found.update(_strings(value))
    found.update(_env_secrets())
    return sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)


_env_cache: tuple[dict[Any, Any], frozenset[str]] | None = None


def _env_secrets() -> frozenset[str]:
    """Values of key-like environment variables, recomputed only when the environment changed
    (this runs for every LM call's history entry: comparing with a copy is cheaper than hashing)."""
    global _env_cache
    data = getattr(os.environ, "_data", None)
    if isinstance(data, dict) and _env_cache is not None and _env_cache[0] == data:
        return _env_cache[1]
    values = frozenset(v for k, v in os.environ.items() if _SECRET_ENV.search(k))
    if isinstance(data, dict):
        _env_cache = (dict(data), values)
    return values


def scrub(text: str, params: Mapping[str, Any] | None = None, *, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every key value (see :func:`secret_values`) and key-shaped string redacted."""
    for secret in secret_values(params) if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if _has_key_shape_marker(text):
        text = _KEY_SHAPES.sub(REDACTED, text)
    return text


def scrub_value(value: Any, secrets: list[str]) -> Any:
    """``value`` (strings, dicts, lists) with secrets redacted; unchanged parts are not copied."""
    # One look at all of its text first: almost every value (an LM call's history entry) has
    # nothing to redact, and one search of the joined text costs far less than one per string.
    # NUL never occurs in a secret or a key shape, so joining creates no match that is not there.
    joined = "\0".join(_strings(value))
    if not any(secret in joined for secret in secrets) and not _has_key_shape_marker(joined):
        return value
    return _scrub_each(value, secrets)


def _has_key_shape_marker(text: str) -> bool:
    return any(marker in text for marker in _SHAPE_MARKERS)


def _scrub_each(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return scrub(value, secrets=secrets)
    if isinstance(value, dict):
        out = {k: _scrub_each(v, secrets) for k, v in value.items()}
        return value if all(out[k] is value[k] for k in value) else out
    if isinstance(value, list):
        items = [_scrub_each(v, secrets) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def history_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params fit for a history entry: generation settings and other non-credential options."""
    return {k: v for k, v in params.items() if k in GENERATION_PARAMS or not _CREDENTIAL_NAME.search(k)}


_AUTH_TEXT = re.compile(
    r"missing credentials|no api[ _-]?key|api[ _-]?key (?:is )?(?:missing|not (?:set|provided|found))"
    r"|(?:invalid|incorrect) api[ _-]?key|unauthori[sz]ed|authentication (?:failed|error)",
    re.IGNORECASE,
)


def is_auth_failure(exc: BaseException) -> bool:
    """A missing, wrong or forbidden key: retrying cannot help, so it is never treated as transient.

    litellm reports a missing OpenAI key as an InternalServerError, hence the look at the text.
    """
    if type(exc).__name__ in ("AuthenticationError", "PermissionDeniedError"):
        return True
    if getattr(exc, "status_code", None) in (401, 403):
        return True
    return bool(_AUTH_TEXT.search(str(exc)))


def scrub_exception(exc: BaseException, params: Mapping[str, Any] | None = None) -> BaseException:
    """Redact key values from an exception's text in place (litellm keeps it in ``message``)."""
    secrets = secret_values(params)
    exc.args = tuple(scrub(a, secrets=secrets) if isinstance(a, str) else a for a in exc.args)
    message = getattr(exc, "message", None)
    if isinstance(message, str):
        try:
            exc.message = scrub(message, secrets=secrets)  # type: ignore[attr-defined]
        except AttributeError:  # a read-only property
            pass
    return exc
