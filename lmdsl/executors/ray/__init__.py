"""The Ray executor (``pip install 'lmdsl[ray]'``); Ray itself is imported at the first run."""

from lmdsl.executors.ray.executor import RayExecutor, RunStats

__all__ = ["RayExecutor", "RunStats"]
