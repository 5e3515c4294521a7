"""Executors: where the examples of an evaluation or an optimizer's pass run.

``threads`` (the default) runs them in this process; ``ray`` on replicas of a Ray cluster
(``pip install 'lmdsl[ray]'``). Choose per call (``Evaluate(..., executor="ray")``), per process
(``lmdsl.configure(executor=RayExecutor(replicas=2))``) or on the CLI (``--executor ray``); a
plugin adds more through the ``lmdsl_register_executors`` hook. See docs/scaling.md.
"""

from lmdsl.executors.base import Executor, Job, Outcome, call_program, describe_error, run_example
from lmdsl.executors.ray import RayExecutor
from lmdsl.executors.ray.payload import set_program_target
from lmdsl.executors.select import get_executor, parallel_width, run_program
from lmdsl.executors.threads import ThreadsExecutor

__all__ = [
    "Executor", "Job", "Outcome", "RayExecutor", "ThreadsExecutor", "call_program", "describe_error",
    "get_executor", "parallel_width", "run_example", "run_program", "set_program_target",
]
