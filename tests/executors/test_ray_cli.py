"""``lmdsl evaluate|compile --executor ray``: resume after Ctrl-C, and one clear line for bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray_programs as rp
from click.testing import CliRunner
from ray_cluster_support import HERE, free_port, ray_env

from lmdsl.cli.main import cli

LMDSL = str(Path(sys.executable).with_name("lmdsl"))
PROGRAM = f"{HERE / 'ray_programs.py'}:Mood"


def _resume_module(tmp_path: Path) -> str:
    """A user's module whose LM caches (the CLI uses a module's `lm`)."""
    path = tmp_path / "resume_prog.py"
    path.write_text("from ray_programs import Mood, cached_lm as lm, devset, metric  # noqa: F401\n")
    return f"{path}:Mood"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**ray_env(), "LMDSL_CACHE_DIR": str(tmp_path / "cache"), **extra}


def test_ctrl_c_then_rerun_repeats_no_finished_call(ray_cluster, tmp_path):
    target = _resume_module(tmp_path)
    marker = tmp_path / "calls.txt"
    # First run: a local Ray instance started by the CLI (replicas inherit the slow LM's settings). The delay
    # leaves seconds between the 8th call and the last, so the interrupt lands mid-run on a quiet machine too.
    first = subprocess.Popen([LMDSL, "evaluate", target, "--executor", "ray", "--replicas", "2"],
                             env=_env(tmp_path, LMDSL_TEST_LM_DELAY="0.6", LMDSL_TEST_LM_MARKER=str(marker)),
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=_sigint_default)
    deadline = time.time() + 180
    while time.time() < deadline and (not marker.exists() or len(marker.read_text().splitlines()) < 8):
        assert first.poll() is None, first.communicate()
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert "interrupted: finished LM calls are cached" in err
    done_before = set(marker.read_text().splitlines())
    assert 8 <= len(done_before) < len(rp.devset)
    # Second run, on the test cluster: every call finished before Ctrl-C is answered by the cache.
    second = subprocess.run([LMDSL, "evaluate", target, "--executor", "ray", "--ray-address",
                             ray_cluster.address, "--json"], env=_env(tmp_path), cwd=tmp_path,
                            capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr
    data = json.loads(second.stdout)
    cached = len(rp.devset) - data["lm_calls"]
    in_flight = 2  # a call finished on a replica the instant Ctrl-C stopped it may not have been stored
    assert len(done_before) - in_flight <= cached <= len(done_before), (cached, len(done_before))
    assert data["n"] == len(rp.devset) and data["score"] == _threads_score()


def _sigint_default() -> None:
    # A test run started in the background (nohup, `cmd &` in a script) passes SIGINT on as ignored, and
    # Python then never turns it into KeyboardInterrupt: give the child the default so Ctrl-C reaches it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _threads_score() -> float:
    import lmdsl
    from lmdsl.evaluate import Evaluate

    with lmdsl.context(lm=rp.lm, display_progress=False):
        return Evaluate(rp.devset, rp.metric)(rp.Mood()).score


def test_compile_on_the_cluster_writes_the_same_program_as_threads(ray_cluster, tmp_path):
    outputs = {}
    for name, flags in (("threads", []), ("ray", ["--executor", "ray", "--ray-address", ray_cluster.address])):
        out = tmp_path / f"{name}.json"
        run = subprocess.run([LMDSL, "compile", PROGRAM, "--optimizer", "bootstrap", "-O", "max_labeled_demos=0",
                              "--threads", "2", "-o", str(out), "--json", *flags],
                             env=_env(tmp_path / name), cwd=tmp_path, capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, run.stderr
        outputs[name] = json.loads(out.read_text())["predictors"]
    assert outputs["ray"] == outputs["threads"] and outputs["ray"]["classify"]["demos"]


def test_an_unreachable_address_is_one_line_in_seconds(tmp_path):
    port = free_port()
    start = time.perf_counter()
    run = subprocess.run([LMDSL, "evaluate", PROGRAM, "--executor", "ray", "--ray-address", f"127.0.0.1:{port}"],
                         env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.splitlines()[0] == (f"Error: ray executor: no Ray cluster answers at 127.0.0.1:{port} "
                                          "(Connection refused); start one with `ray start --head --port PORT` "
                                          "or leave out --ray-address to start a local instance")
    assert time.perf_counter() - start < 60


def test_without_the_extra_the_cli_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["evaluate", PROGRAM, "--executor", "ray"])
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0] if hasattr(result, "stderr") else result.output.splitlines()[0]
    assert first.startswith("Error: the ray executor needs Ray, which is not installed: pip install 'lmdsl[ray]'")


@pytest.mark.parametrize("flags, message", [
    (["--replicas", "2"], "--replicas need --executor ray"),
    (["--executor", "threads", "--ray-address", "auto"], "--ray-address apply to --executor ray, not 'threads'"),
    (["--executor", "nope"], "unknown executor 'nope'; known: ray, threads"),
])
def test_executor_flags_are_checked(flags, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["evaluate", PROGRAM, *flags])
    assert result.exit_code == 2 and message in result.output

