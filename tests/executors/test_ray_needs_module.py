"""The ray executor rebuilds the program on each replica, so it takes only Modules: a plain
function is refused with a clear error before any cluster starts."""

from __future__ import annotations

import pytest

from lmdsl import Example
from lmdsl.errors import ConfigError
from lmdsl.executors import Job, RayExecutor


def test_a_plain_function_is_refused_before_ray_starts() -> None:
    executor = RayExecutor()
    rows = [Example(question="q").with_inputs("question")]
    with pytest.raises(ConfigError, match=r"needs an lmdsl program \(a Module\), got a function"):
        executor.map(lambda **inputs: inputs, rows, Job(), finish=lambda i, outcome: outcome)
