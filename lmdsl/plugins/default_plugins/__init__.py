"""lmdsl's own features, registered through the same hooks a third-party plugin uses."""

from lmdsl.plugins.default_plugins import (
    embedders,
    executors,
    lms,
    metrics,
    modules,
    retrievers,
    teleprompters,
)

BUILTINS = (executors, modules, retrievers, teleprompters, lms, metrics, embedders)
