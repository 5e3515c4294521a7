"""lmdsl's own features, registered through the same hooks a third-party plugin uses."""

from lmdsl.plugins.default_plugins import (
    embedders,
    executors,
    lms,
    metrics,
    modules,
    optimizers,
    retrievers,
)

BUILTINS = (executors, modules, retrievers, optimizers, lms, metrics, embedders)
