"""A real two-node Ray cluster on this machine, started once for this folder's tests.

``ray start --head`` and ``ray start --address`` (a second node offering the custom
resource ``lmdsl_node2``) run in the foreground (``--block``) in their own process groups
under a private temp dir, so teardown stops exactly them (never ``ray stop``, which would
stop every Ray on a shared machine). The test process connects as the driver; executors
created with no address use that connection.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
RAY = str(Path(sys.executable).with_name("ray"))
NODE2 = "lmdsl_node2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_env() -> dict[str, str]:
    # One auth mode for every process of the test cluster (ray start --head turns tokens on).
    return {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}


class Cluster:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="lmdsl-ray-", dir="/tmp"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []

    def _start(self, args: list[str], log: str) -> subprocess.Popen:
        common = ["--block", "--disable-usage-stats", "--num-gpus", "0", "--object-store-memory", "80000000",
                  "--dashboard-agent-listen-port", str(free_port()), "--temp-dir", str(self.tmp)]
        out = open(self.tmp / log, "w")  # noqa: SIM115 - kept open for the process's lifetime
        proc = subprocess.Popen([RAY, "start", *args, *common], stdout=out, stderr=subprocess.STDOUT,
                                env=ray_env(), start_new_session=True)
        self.procs.append(proc)
        return proc

    def _wait_for(self, log: str, text: str, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            content = (self.tmp / log).read_text(errors="replace")
            if text in content:
                return
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"ray start exited early:\n{content[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"ray start did not report {text!r} within {timeout} s")

    def start(self) -> None:
        self._start(["--head", "--port", str(self.port), "--num-cpus", "2", "--include-dashboard", "false",
                     "--ray-client-server-port", str(free_port())], "head.log")
        self._wait_for("head.log", "Ray runtime started")
        self._start(["--address", self.address, "--num-cpus", "1", "--resources", json.dumps({NODE2: 1})],
                    "node2.log")
        self._wait_for("node2.log", "Ray runtime started")

    def stop(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the node's gcs/raylet/agents share its group
            except ProcessLookupError:
                pass
        for proc in self.procs:
            proc.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)


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
