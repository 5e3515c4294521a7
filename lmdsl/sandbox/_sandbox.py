"""Host side of the sandbox: start workers, send code, enforce wall time, memory and output.

Each run goes to a fresh worker process that has never run anything else:
``python -I -S _launch.py`` (rlimits + seccomp, empty environment) which execs
``node <permission flags> runner.mjs`` which runs CPython compiled to WebAssembly
(Pyodide).  See ``docs/sandbox.md`` for what each layer blocks.

Start-up is the expensive part (about 0.3-0.8 s with a memory snapshot, 3 s without), so a
:class:`Sandbox` keeps ``pool_size`` workers pre-started and idle; each one is used for
exactly one run and then discarded, which keeps "every run starts clean" literally true.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmdsl.errors import ConfigError, UsageError, UsageTypeError
from lmdsl.utils.paths import cache_root

PACKAGE_DIR = Path(__file__).resolve().parent
RUNNER = PACKAGE_DIR / "runner.mjs"
LAUNCHER = PACKAGE_DIR / "_launch.py"
MIN_NODE_MAJOR = 20
STARTUP_TIMEOUT = 90.0  # seconds for a worker to load Pyodide; only a broken install hits it
RSS_OVERHEAD_MB = 512  # Node + V8 + compiled wasm on top of the Python heap (about 200 MB)
JS_HEAP_MB = 256

_ENV_NODE = "LMDSL_SANDBOX_NODE"
_ENV_PYODIDE = "LMDSL_SANDBOX_PYODIDE"
_ENV_CACHE = "LMDSL_SANDBOX_CACHE"


def install_command() -> str:
    """The shell command that installs the pinned Pyodide runtime next to this package."""
    return f"npm ci --prefix {PACKAGE_DIR}"


@dataclass(frozen=True)
class SandboxResult:
    """Outcome of one :meth:`Sandbox.run`.

    ``value`` is the value of the last statement if it is an expression (like a REPL):
    ``None``/bool/int/float/str and lists/dicts of those come back as Python values,
    anything else as its ``repr`` string.  ``error`` is ``None`` on success, else one line
    ``"Type: message"``; ``stderr`` carries the traceback, for feeding back to a model.
    """

    stdout: str
    value: Any
    error: str | None
    duration: float
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _Runtime:
    node: str
    node_version: tuple[int, int, int]
    pyodide_dir: Path
    pyodide_version: str

    def permission_flags(self, snapshot: Path | None) -> list[str]:
        major, minor, _ = self.node_version
        stable = major >= 23 or (major == 22 and minor >= 13)
        flags = ["--permission" if stable else "--experimental-permission"]
        readable = {str(PACKAGE_DIR) + os.sep, str(self.pyodide_dir) + os.sep}
        if snapshot is not None:
            readable.add(str(snapshot))
        flags += [f"--allow-fs-read={p}" for p in sorted(readable)]
        return flags


_runtime_lock = threading.Lock()
_runtime_cache: _Runtime | None = None


def find_runtime() -> _Runtime:
    """Locate Node.js and the Pyodide files; raise :class:`ConfigError` saying how to fix it.

    Cached after the first success.  Runs ``node --version`` once (a few ms).
    """
    global _runtime_cache
    with _runtime_lock:
        if _runtime_cache is not None:
            return _runtime_cache
        if sys.platform == "win32":
            raise ConfigError("lmdsl.sandbox needs Linux or macOS (it relies on POSIX process limits)")
        node = os.environ.get(_ENV_NODE) or shutil.which("node")
        if not node:
            raise ConfigError(
                "lmdsl.sandbox needs Node.js >= 20 on PATH (Debian: apt-get install nodejs), "
                f"or set {_ENV_NODE}; then run: {install_command()}"
            )
        # Ask Node for its real binary: version managers put shell-script or binary shims on
        # PATH that exec the real node, and the worker may not exec anything (seccomp).
        probe = "process.stdout.write(process.version + '\\n' + process.execPath)"
        try:
            out = subprocess.run([node, "-e", probe], capture_output=True, text=True, timeout=30, check=True)
        except (OSError, subprocess.SubprocessError) as e:
            raise ConfigError(f"cannot run Node.js at {node!r}: {e}") from e
        reported, _, exec_path = out.stdout.strip().partition("\n")
        m = re.match(r"v(\d+)\.(\d+)\.(\d+)", reported)
        if not m or int(m.group(1)) < MIN_NODE_MAJOR:
            raise ConfigError(
                f"lmdsl.sandbox needs Node.js >= {MIN_NODE_MAJOR} (for its permission model); "
                f"{node} is {reported or 'unknown'}"
            )
        node = exec_path or node
        version = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        pyodide_dir = Path(os.environ.get(_ENV_PYODIDE) or PACKAGE_DIR / "node_modules" / "pyodide").resolve()
        missing = [
            n
            for n in ("pyodide.mjs", "pyodide.asm.wasm", "python_stdlib.zip")
            if not (pyodide_dir / n).is_file()
        ]
        if missing:
            raise ConfigError(
                f"the sandbox runtime (Pyodide) is not installed: {pyodide_dir} lacks {', '.join(missing)}. "
                f"Install it with: {install_command()}"
            )
        try:
            pyodide_version = json.loads((pyodide_dir / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            pyodide_version = "unknown"
        _runtime_cache = _Runtime(os.path.realpath(node), version, pyodide_dir, pyodide_version)
        return _runtime_cache


# --- memory snapshot -----------------------------------------------------------------------
# Pyodide can restore a fresh interpreter from a memory image instead of booting CPython and
# importing the stdlib, which cuts worker start-up several-fold.  The image is made once per
# machine (by a sandboxed worker, before it has run any user code) and cached on disk.

_snapshot_lock = threading.Lock()
_snapshot_state: dict[str, Path | None] = {}


def _cache_dir() -> Path:
    if os.environ.get(_ENV_CACHE):
        return Path(os.environ[_ENV_CACHE])
    return cache_root() / "sandbox"


def _snapshot_path(rt: _Runtime) -> Path:
    h = hashlib.sha256()
    h.update(RUNNER.read_bytes())
    wasm = rt.pyodide_dir / "pyodide.asm.wasm"
    st = wasm.stat()
    h.update(f"{rt.pyodide_dir}|{st.st_size}|{st.st_mtime_ns}|{rt.node_version}".encode())
    return _cache_dir() / f"pyodide-{rt.pyodide_version}-{h.hexdigest()[:16]}.snapshot"


def _ensure_snapshot(rt: _Runtime) -> Path | None:
    """Return the snapshot path, making it if needed; ``None`` if snapshots are unavailable."""
    with _snapshot_lock:
        key = str(rt.pyodide_dir)
        if key in _snapshot_state:
            return _snapshot_state[key]
        path: Path | None = None
        try:
            path = _snapshot_path(rt)
            if not path.is_file():
                _make_snapshot(rt, path)
        except (OSError, subprocess.SubprocessError, ValueError) as e:
            warnings.warn(
                f"lmdsl.sandbox: no start-up snapshot ({e}); workers boot slower",
                RuntimeWarning,
                stacklevel=3,
            )
            path = None
        _snapshot_state[key] = path
        return path


def _forget_snapshot(rt: _Runtime, path: Path) -> None:
    with _snapshot_lock:
        _snapshot_state[str(rt.pyodide_dir)] = None
    with contextlib.suppress(OSError):
        path.unlink()


def _make_snapshot(rt: _Runtime, path: Path) -> None:
    cmd = _command(rt, memory_mb=512, max_output=1000, cpu_seconds=120, snapshot=None, make_snapshot=True)
    proc = subprocess.run(cmd, capture_output=True, timeout=STARTUP_TIMEOUT, cwd="/", check=False)
    data = proc.stdout
    if proc.returncode != 0 or len(data) < 1_000_000:
        tail = proc.stderr.decode(errors="replace")[-500:]
        raise subprocess.SubprocessError(f"snapshot worker failed (exit {proc.returncode}): {tail.strip()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # atomic: concurrent makers just overwrite with an equal file
    # Snapshots of other runner/Pyodide versions are dead weight (~30 MB each).
    for old in path.parent.glob("pyodide-*.snapshot"):
        if old != path:
            with contextlib.suppress(OSError):
                old.unlink()


def _command(
    rt: _Runtime,
    *,
    memory_mb: int,
    max_output: int,
    cpu_seconds: int,
    snapshot: Path | None,
    make_snapshot: bool = False,
) -> list[str]:
    config = json.dumps({"cpu_seconds": cpu_seconds, "nofile": 256, "seccomp": True})
    node_args = [
        rt.node,
        "--no-warnings",
        *rt.permission_flags(snapshot),
        "--disallow-code-generation-from-strings",
        f"--max-old-space-size={JS_HEAP_MB}",
        str(RUNNER),
        f"--memory-bytes={memory_mb * 1024 * 1024}",
        f"--max-output={max_output}",
        f"--pyodide-dir={rt.pyodide_dir}",
    ]
    if snapshot is not None:
        node_args.append(f"--snapshot={snapshot}")
    if make_snapshot:
        node_args.append("--make-snapshot")
    return [sys.executable, "-I", "-S", "-B", str(LAUNCHER), config, "--", *node_args]


# --- workers -------------------------------------------------------------------------------


class _WorkerFailed(Exception):
    """A worker died or misbehaved before it could take a request."""


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    snapshot: Path | None
    started: float = field(default_factory=time.monotonic)
    ready: dict[str, Any] | None = None
    rss_limit_mb: float | None = None  # set while running user code
    _buf: bytearray = field(default_factory=bytearray)
    _err: bytearray = field(default_factory=bytearray)

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()

    def stderr_tail(self) -> str:
        return self._err[-2000:].decode("utf-8", errors="replace").strip()

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.proc.pid}/statm", "rb") as f:
                pages = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            return 0.0
        return pages * os.sysconf("SC_PAGE_SIZE") / 1048576

    def pump(self, deadline: float, on_line: Any, max_bytes: int | None = None) -> str:
        """Read stdout/stderr until ``on_line`` returns True, EOF, or the deadline.

        Returns ``"done"``, ``"eof"``, ``"timeout"``, ``"overflow"`` or ``"memory:<mb>"`` (the
        last only while ``rss_limit_mb`` is set: a backstop in case the in-wasm cap is bypassed).
        """
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out_fd, err_fd = self.proc.stdout.fileno(), self.proc.stderr.fileno()
        total = 0
        with selectors.DefaultSelector() as sel:
            sel.register(out_fd, selectors.EVENT_READ)
            sel.register(err_fd, selectors.EVENT_READ)
            open_fds = 2
            next_rss = 0.0
            while True:
                # Complete lines already buffered are handled before waiting for more.
                while (nl := self._buf.find(b"\n")) >= 0:
                    line = bytes(self._buf[:nl])
                    del self._buf[: nl + 1]
                    if line.strip() and on_line(line):
                        return "done"
                now = time.monotonic()
                if now >= deadline:
                    return "timeout"
                limit = self.rss_limit_mb
                if limit is not None and now >= next_rss:
                    next_rss = now + 0.05
                    rss = self.rss_mb()
                    if rss > limit:
                        return f"memory:{rss:.0f}"
                if open_fds == 0:
                    return "eof"
                for key, _ in sel.select(timeout=min(0.05, deadline - now)):
                    fd = key.fd
                    try:
                        chunk = os.read(fd, 1 << 16)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(fd)
                        open_fds -= 1
                        continue
                    if fd == out_fd:
                        self._buf += chunk
                        total += len(chunk)
                        if max_bytes is not None and total > max_bytes:
                            return "overflow"
                    else:
                        self._err += chunk
                        del self._err[:-8192]

    def wait_ready(self) -> dict[str, Any]:
        if self.ready is not None:
            return self.ready

        def on_line(line: bytes) -> bool:
            try:
                msg = json.loads(line)
            except ValueError:
                return False
            if msg.get("ready"):
                self.ready = msg
                return True
            if "fatal" in msg:
                self._err += str(msg["fatal"]).encode()
            return False

        state = self.pump(self.started + STARTUP_TIMEOUT, on_line, max_bytes=1 << 20)
        if state != "done":
            code = self.proc.poll()
            self.kill()
            raise _WorkerFailed(
                f"sandbox worker did not start ({state}, exit code {code}): {self.stderr_tail() or 'no output'}"
            )
        assert self.ready is not None
        return self.ready


_warned_seccomp = False


class Sandbox:
    """Run untrusted Python (e.g. model-written code) behind a real isolation boundary.

    The code runs in CPython compiled to WebAssembly (Pyodide) inside a Node.js process that
    is itself confined: Node's permission model (no host files, no child processes), no
    JavaScript code generation from strings, an empty environment, and on Linux a seccomp
    filter (no sockets, no process creation) plus rlimits.  Every run gets a fresh process.

    Args:
        timeout: wall-clock seconds the code may run; the worker is killed after that.
        memory_mb: cap on the Python heap (WebAssembly memory); allocations beyond it raise
            ``MemoryError`` inside the sandbox.
        max_output: characters of stdout+stderr (and of the returned value) kept; more is an
            ``OutputLimit`` error.
        pool_size: workers kept pre-started so a run does not pay start-up; 0 starts one per
            run on demand.

    Thread-safe: concurrent :meth:`run` calls each get their own worker.  :meth:`close`
    (or ``with Sandbox() as sb:``) stops idle workers; the sandbox can still be used
    afterwards and then starts workers again.
    """

    def __init__(
        self,
        timeout: float = 10.0,
        memory_mb: int = 256,
        max_output: int = 64_000,
        *,
        pool_size: int = 1,
    ) -> None:
        if not timeout > 0:
            raise UsageError("timeout must be positive")
        if memory_mb < 64:
            raise UsageError("memory_mb must be at least 64 (the interpreter itself needs ~40 MB)")
        if max_output < 1:
            raise UsageError("max_output must be positive")
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        self.max_output = int(max_output)
        self.pool_size = max(0, int(pool_size))
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _kill_all, self._idle)
        #: What the last started worker reported about its confinement (e.g. seccomp state).
        self.isolation: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Pre-start the worker pool now (otherwise the first :meth:`run` does it)."""
        self._refill()
        return self

    def close(self) -> None:
        """Stop idle workers.  Safe to call twice; a later :meth:`run` starts new ones."""
        with self._lock:
            idle, self._idle[:] = list(self._idle), []
        _kill_all(idle)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, rt: _Runtime, snapshot: Path | None) -> _Worker:
        cpu = math.ceil(self.timeout) + 120  # backstop only; wall time is enforced by kill
        cmd = _command(
            rt, memory_mb=self.memory_mb, max_output=self.max_output, cpu_seconds=cpu, snapshot=snapshot
        )
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd="/",
                start_new_session=True,  # own process group: a timeout kill takes everything
                close_fds=True,
            )
        except OSError as e:
            raise ConfigError(f"cannot start the sandbox worker: {e}") from e
        return _Worker(proc, snapshot)

    def _refill(self) -> None:
        rt = find_runtime()
        snapshot = _ensure_snapshot(rt)
        with self._lock:
            while len(self._idle) < self.pool_size:
                self._idle.append(self._spawn(rt, snapshot))

    def _take(self) -> _Worker:
        """Get a ready worker: the oldest pre-started one, else a new one."""
        rt = find_runtime()
        snapshot = _ensure_snapshot(rt)
        with self._lock:
            worker = self._idle.pop(0) if self._idle else None
        if worker is None:
            worker = self._spawn(rt, snapshot)
        try:
            ready = worker.wait_ready()
        except _WorkerFailed as first:
            if worker.snapshot is not None:
                # A stale or damaged snapshot: drop it and boot the slow way once.
                _forget_snapshot(rt, worker.snapshot)
                self.close()
                worker = self._spawn(rt, None)
                try:
                    ready = worker.wait_ready()
                except _WorkerFailed as e:
                    raise ConfigError(str(e)) from first
            else:
                raise ConfigError(str(first)) from None
        self.isolation = {"seccomp": ready.get("seccomp"), "snapshot": ready.get("snapshot")}
        _warn_if_weak(str(ready.get("seccomp", "")))
        return worker

    # -- running -----------------------------------------------------------------------

    def run(self, code: str) -> SandboxResult:
        """Run ``code`` in a fresh interpreter; never raises for faults of the code itself.

        Raises :class:`~lmdsl.errors.ConfigError` only when the runtime is missing or broken.
        """
        if not isinstance(code, str):
            raise UsageTypeError(f"code must be str, not {type(code).__name__}")
        worker = self._take()
        stdout: list[str] = []
        stderr: list[str] = []
        done: dict[str, Any] = {}

        def on_line(line: bytes) -> bool:
            try:
                msg = json.loads(line)
            except ValueError:
                return False  # not ours (cannot happen unless the JS side is subverted)
            if not isinstance(msg, dict):
                return False
            if isinstance(msg.get("o"), str):
                stdout.append(msg["o"])
            elif isinstance(msg.get("e"), str):
                stderr.append(msg["e"])
            elif isinstance(msg.get("done"), dict):
                done.update(msg["done"])
                return True
            elif "fatal" in msg:
                stderr.append(str(msg["fatal"]))
            return False

        start = time.monotonic()
        try:
            assert worker.proc.stdin is not None
            worker.proc.stdin.write(json.dumps({"code": code}).encode() + b"\n")
            worker.proc.stdin.close()
        except OSError:
            pass  # the worker died; pump() sees EOF and reports it
        # Top the pool up only now, so spawning the replacement does not delay this run.
        self._refill()
        worker.rss_limit_mb = self.memory_mb + RSS_OVERHEAD_MB
        # Streamed JSON can be up to ~6x the text (escapes); anything beyond is not our runner.
        state = worker.pump(start + self.timeout, on_line, max_bytes=16 * self.max_output + (1 << 20))
        duration = time.monotonic() - start
        worker.kill()

        out = "".join(stdout)[: self.max_output]
        err = "".join(stderr)[: self.max_output]
        if state == "done":
            error = done.get("error")
            kind = done.get("kind")
            value = done.get("value") if kind in ("json", "repr") else None
            return SandboxResult(out, value, error if isinstance(error, str) else None, duration, err)
        if state == "timeout":
            error = f"TimeoutError: exceeded {self.timeout} s"
        elif state.startswith("memory:"):
            error = f"MemoryError: sandbox process used {state[7:]} MB (limit {self.memory_mb} MB + runtime)"
        elif state == "overflow":
            error = f"OutputLimit: output exceeded {self.max_output} characters"
        else:
            code_ = worker.proc.returncode
            tail = worker.stderr_tail()
            error = f"SandboxError: worker exited with code {code_}" + (
                f": {tail.splitlines()[-1]}" if tail else ""
            )
        return SandboxResult(out, None, error, duration, err)


def _kill_all(workers: list[_Worker]) -> None:
    for w in list(workers):
        w.kill()
    workers.clear()


def _warn_if_weak(seccomp: str) -> None:
    global _warned_seccomp
    if seccomp != "on" and not _warned_seccomp:
        _warned_seccomp = True
        warnings.warn(
            f"lmdsl.sandbox: seccomp filter not active ({seccomp}); the WebAssembly and Node "
            "permission layers still apply, but sockets are not blocked at the OS level",
            RuntimeWarning,
            stacklevel=4,
        )
