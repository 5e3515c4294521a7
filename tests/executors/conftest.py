"""The executor tests' two-node Ray cluster (ray_cluster_support.py), started once for this folder's
tests and stopped right after the last of them."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ray_cluster_support import HERE, Cluster

_state: dict[str, Any] = {}  # the running cluster and the shared replicas, while tests here need them


def _cluster() -> Cluster:
    import ray

    if "cluster" not in _state:
        os.environ["RAY_AUTH_MODE"] = "disabled"
        cluster = Cluster()
        try:
            cluster.start()
            if str(HERE) not in sys.path:
                sys.path.insert(0, str(HERE))  # replicas import ray_programs by module name (Ray ships sys.path)
            ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
            deadline = time.time() + 60
            while sum(1 for n in ray.nodes() if n["Alive"]) < 2 and time.time() < deadline:
                time.sleep(0.2)
        except BaseException:
            cluster.stop()
            raise
        _state["cluster"] = cluster
    return _state["cluster"]


def _stop_cluster() -> None:
    import ray

    executor = _state.pop("replicas", None)
    if executor is not None:
        executor.close()
    cluster = _state.pop("cluster", None)
    if cluster is not None:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()


def pytest_runtest_teardown(item, nextitem):
    """Stop the cluster as soon as the next test is not one of this folder's (pytest's "package"
    scope would keep it until the whole session ends, since tests/ folders are not packages)."""
    if "cluster" in _state and (nextitem is None or HERE not in Path(str(nextitem.path)).parents):
        _stop_cluster()


def pytest_sessionfinish(session, exitstatus):
    _stop_cluster()  # a run stopped early (-x, Ctrl-C) leaves nothing behind either


@pytest.fixture
def ray_cluster() -> Cluster:
    """The cluster, with this process connected as its driver (started once for this folder's tests)."""
    return _cluster()


@pytest.fixture
def replicas(ray_cluster):
    """Two replicas of half a CPU each, shared by the tests that do not kill them (the cluster's
    three CPUs leave room for the tests that start their own)."""
    from lmdsl.executors import RayExecutor

    if "replicas" not in _state:
        _state["replicas"] = RayExecutor(replicas=2, num_cpus=0.5)
    return _state["replicas"]
