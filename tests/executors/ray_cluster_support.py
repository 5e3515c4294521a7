"""A real two-node Ray cluster on this machine (tests/executors/conftest.py starts it once).

``ray start --head`` and ``ray start --address`` (a second node offering the custom
resource ``lmdsl_node2``) run in the foreground (``--block``) in their own process groups
under a private temp dir, so teardown stops exactly them (never ``ray stop``, which would
stop every Ray on a shared machine). The test process connects as the driver; executors
created with no address use that connection.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
        # A watchdog shell leads the node's process group and kills the group once this test
        # process is gone, so a test run killed before its teardown leaves no node behind.
        command = " ".join(shlex.quote(part) for part in [RAY, "start", *args, *common])
        watchdog = (f"{command} & node=$!; while kill -0 {os.getpid()} 2>/dev/null && kill -0 $node 2>/dev/null; "
                    "do sleep 1; done; kill -KILL 0")
        proc = subprocess.Popen(["sh", "-c", watchdog], stdout=out, stderr=subprocess.STDOUT, env=ray_env(),
                                start_new_session=True)
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


