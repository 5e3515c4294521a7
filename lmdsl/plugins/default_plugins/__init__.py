"""lmdsl's own features, registered through the same hooks a third-party plugin uses."""

from lmdsl.plugins.default_plugins import embedders, lms, metrics, modules, retrievers, teleprompters

BUILTINS = (modules, retrievers, teleprompters, lms, metrics, embedders)
