"""What a model-name prefix needs (an installer) and can do (its capabilities).

Plugins register providers through the ``lmdsl_register_lms`` hook: ``register(prefix, Provider(...))``,
or ``register(prefix, installer)`` for a provider that only needs installing into litellm. The plugin
layer hands us a discovery callback so the LM layer never imports the plugin layer. ``LM`` asks the
provider what it can do instead of testing model-name prefixes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lmdsl.errors import UsageTypeError

# ``score(model_name, messages, replies) -> (scores, prompt_tokens, completion_tokens)``; model_name
# is the part after the prefix.
Scorer = Callable[[str, Sequence[Mapping[str, Any]], Sequence[str]], tuple[Sequence[float], int, int]]


@dataclass(frozen=True)
class Provider:
    """A provider's capabilities.

    ``constrain``: the constraint mode ``constrain="auto"`` resolves to for this prefix (``none``:
    decide from the endpoint, or litellm's knowledge of the model). ``in_process``: the provider runs
    in this process and takes ``grammar=`` directly rather than in the request body. ``score``:
    exact log-likelihoods of given replies (``LM.score``), when the provider can compute them.
    ``serialise``: calls must not overlap (one llama.cpp context); executors may use it.
    """

    install: Callable[[], None] | None = None
    constrain: str = "none"
    in_process: bool = False
    score: Scorer | None = None
    serialise: bool = False


_providers: dict[str, Provider] = {}
_installed: set[str] = set()
_lock = threading.Lock()
_discover: Callable[[], Mapping[str, Any]] | None = None


def set_discovery(discover: Callable[[], Mapping[str, Any]]) -> None:
    global _discover
    _discover = discover


def as_provider(registered: Any) -> Provider:
    """A registry entry as a :class:`Provider` (a bare callable is an installer)."""
    if isinstance(registered, Provider):
        return registered
    if callable(registered):
        return Provider(install=registered)
    raise UsageTypeError(f"an LM provider must be a lmdsl.lm.providers.Provider or an installer callable, "
                    f"got {registered!r}")


def provider_for(model: str) -> Provider | None:
    """The provider registered for ``model``'s prefix, if any."""
    prefix = model.split("/", 1)[0]
    found = _providers.get(prefix)
    if found is None and _discover is not None:
        discovered = {name: as_provider(entry) for name, entry in _discover().items()}
        with _lock:
            _providers.update(discovered)
        found = _providers.get(prefix)
    return found


def ensure_provider(model: str) -> None:
    """Install the provider for ``model``'s prefix if a plugin registered one that needs it."""
    prefix = model.split("/", 1)[0]
    if prefix in _installed:
        return
    provider = provider_for(model)
    if provider is None or provider.install is None:
        return
    with _lock:
        if prefix not in _installed:
            provider.install()
            _installed.add(prefix)
