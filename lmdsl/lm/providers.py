"""Which model-name prefixes need installing into litellm before the first call.

Plugins fill this through the ``lmdsl_register_lms`` hook; the plugin layer hands us a
discovery callback so the LM layer never imports the plugin layer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_installers: dict[str, Callable[[], None]] = {}
_installed: set[str] = set()
_lock = threading.Lock()
_discover: Callable[[], dict[str, Callable[[], None]]] | None = None


def set_discovery(discover: Callable[[], dict[str, Callable[[], None]]]) -> None:
    global _discover
    _discover = discover


def ensure_provider(model: str) -> None:
    """Install the provider for ``model``'s prefix if a plugin registered one."""
    prefix = model.split("/", 1)[0]
    if prefix in _installed:
        return
    installer = _installers.get(prefix)
    if installer is None and _discover is not None:
        _installers.update(_discover())
        installer = _installers.get(prefix)
    if installer is None:
        return
    with _lock:
        if prefix not in _installed:
            installer()
            _installed.add(prefix)
