"""lmdsl.sandbox: correctness of runs, and that each escape attempt fails with no host effect.

The escape tests check the host side (the file was not read, the env var not seen, the
listener got no connection, the path was not created, the process was not spawned), not
just that the sandbox said "error": a "successful" fake inside the sandbox is fine as long
as nothing crosses the boundary.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmdsl.errors import ConfigError
from lmdsl.sandbox import Sandbox, SandboxResult, find_runtime, install_command


def _runtime_or_skip() -> None:
    try:
        find_runtime()
    except ConfigError as e:
        pytest.skip(f"sandbox runtime not installed ({e}); install with: {install_command()}")


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    _runtime_or_skip()
    with Sandbox(timeout=5.0, memory_mb=128, max_output=4000, pool_size=2) as box:
        box.start()
        yield box


# --- correctness -------------------------------------------------------------------------


def test_arithmetic_and_last_expression_value(sb: Sandbox) -> None:
    r = sb.run("a = 6\nb = 7\na * b")
    assert isinstance(r, SandboxResult)
    assert (r.value, r.error, r.stdout) == (42, None, "")
    assert r.ok and r.duration > 0


def test_no_value_when_last_statement_is_not_an_expression(sb: Sandbox) -> None:
    r = sb.run("x = 2 ** 10")
    assert (r.value, r.error) == (None, None)


def test_stdout_is_captured_in_order(sb: Sandbox) -> None:
    r = sb.run("for i in range(3):\n    print('line', i)\nprint('end', end='')\n'v'")
    assert r.stdout == "line 0\nline 1\nline 2\nend"
    assert r.value == "v"


def test_json_values_come_back_as_python_values_others_as_repr(sb: Sandbox) -> None:
    assert sb.run("{'a': [1, 2.5, None, True, 'x']}").value == {"a": [1, 2.5, None, True, "x"]}
    assert sb.run("(1, 2)").value == "(1, 2)"
    assert sb.run("from fractions import Fraction\n[Fraction(1, 3)]").value == "[Fraction(1, 3)]"


def test_allowed_stdlib_imports_work(sb: Sandbox) -> None:
    code = """
import math, re, json, itertools, fractions, decimal, statistics, datetime, collections
parts = [
    math.isqrt(17),
    re.findall(r"\\d+", "a1b22")[1],
    json.loads('[3]')[0],
    len(list(itertools.permutations(range(4)))),
    str(fractions.Fraction(3, 6)),
    str(decimal.Decimal("1.10") + decimal.Decimal("2.20")),
    statistics.median([5, 1, 3]),
    (datetime.date(2024, 3, 1) - datetime.date(2024, 2, 1)).days,
    collections.Counter("banana").most_common(1)[0][0],
]
parts
"""
    r = sb.run(code)
    assert r.error is None, r.stderr
    assert r.value == [4, "22", 3, 24, "1/2", "3.30", 3, 29, "a"]


def test_syntax_error_is_reported(sb: Sandbox) -> None:
    r = sb.run("def f(:\n    return 1")
    assert r.error is not None and r.error.startswith("SyntaxError:")
    assert "line 1" in r.error
    assert r.value is None


def test_exception_reported_with_type_and_message(sb: Sandbox) -> None:
    r = sb.run("print('before')\nx")
    assert r.error == "NameError: name 'x' is not defined"
    assert r.stdout == "before\n"  # output up to the failure is kept
    assert "line 2" in r.stderr  # the traceback names the line
    assert sb.run("1 / 0").error == "ZeroDivisionError: division by zero"


def test_sys_exit(sb: Sandbox) -> None:
    assert sb.run("import sys\nprint('a')\nsys.exit(0)").error is None
    assert sb.run("import sys\nsys.exit(3)").error == "SystemExit: 3"


def test_clean_state_between_runs(sb: Sandbox) -> None:
    r1 = sb.run("x = 41\nimport math\nmath.tau = 0\nopen('/tmp/note.txt', 'w').write('hi')")
    assert r1.error is None
    assert sb.run("x").error == "NameError: name 'x' is not defined"
    assert sb.run("import math\nmath.tau").value == pytest.approx(6.283185307179586)
    assert sb.run("open('/tmp/note.txt').read()").error.startswith("FileNotFoundError")


def test_random_differs_between_runs(sb: Sandbox) -> None:
    # Workers start from one memory snapshot; the random state must still be fresh.
    values = {sb.run("import random\nrandom.random()").value for _ in range(2)}
    assert len(values) == 2


def test_concurrent_runs_from_threads(sb: Sandbox) -> None:
    results: dict[int, SandboxResult] = {}

    def work(i: int) -> None:
        results[i] = sb.run(f"print({i})\nsum(range({i} * 1000))")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [0, 1, 2, 3]
    for i, r in results.items():
        assert r.error is None, r
        assert (r.stdout, r.value) == (f"{i}\n", sum(range(i * 1000)))


def test_in_sandbox_scratch_space_is_writable(sb: Sandbox) -> None:
    r = sb.run("import os\nwith open('/tmp/s.txt', 'w') as f: f.write('ok')\nopen('/tmp/s.txt').read()")
    assert (r.value, r.error) == ("ok", None)


# --- escape attempts -------------------------------------------------------------------------


def test_cannot_read_host_file_by_absolute_path(sb: Sandbox, tmp_path: Path) -> None:
    secret = f"host-secret-{uuid.uuid4()}"
    target = tmp_path / "secret.txt"
    target.write_text(secret)
    for code in (
        f"print(open({str(target)!r}).read())",
        f"import pathlib\npathlib.Path({str(target)!r}).read_text()",
        # through Pyodide's JS API: mount the host directory into the wasm filesystem
        f"import pyodide_js\npyodide_js.mountNodeFS('/mnt', {str(tmp_path)!r})\nopen('/mnt/secret.txt').read()",
    ):
        r = sb.run(code)
        assert r.error is not None, code
        assert secret not in r.stdout + r.stderr + str(r.value)


def test_cannot_read_etc_passwd(sb: Sandbox) -> None:
    r = sb.run("print(open('/etc/passwd').read())")
    assert r.error is not None and r.error.startswith("FileNotFoundError")
    assert "root:" not in r.stdout
    r = sb.run("import pyodide_js\npyodide_js.mountNodeFS('/mnt', '/etc')\nopen('/mnt/passwd').read()")
    assert r.error is not None and "root:" not in str(r.value)


def test_host_environment_is_invisible(monkeypatch: pytest.MonkeyPatch) -> None:
    _runtime_or_skip()
    secret = f"env-secret-{uuid.uuid4()}"
    monkeypatch.setenv("LMDSL_SANDBOX_TEST_SECRET", secret)
    with Sandbox(timeout=5.0, pool_size=0) as box:  # worker started after the env var is set
        r = box.run("import os\nprint(dict(os.environ))\nos.environ.get('LMDSL_SANDBOX_TEST_SECRET')")
    assert r.error is None
    assert r.value is None
    assert secret not in r.stdout


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP listener on 127.0.0.1 recording every connection it accepts."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.1)
    got: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(0.5)
                try:
                    got.append(conn.recv(4096) or b"<connected>")
                except OSError:
                    got.append(b"<connected>")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], got
    stop.set()
    t.join(2)
    srv.close()


def test_no_network_to_a_host_listener(sb: Sandbox, listener: tuple[int, list[bytes]]) -> None:
    port, got = listener
    # Each attempt may "succeed" inside (Pyodide emulates sockets); what matters is that
    # nothing reaches the host.  One run, so the test pays one worker start.
    code = f"""
import socket, urllib.request, http.client, pyodide_js
attempts = [
    lambda: socket.create_connection(('127.0.0.1', {port}), timeout=0.2).sendall(b'hello'),
    lambda: urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=0.2).read(),
    lambda: http.client.HTTPConnection('127.0.0.1', {port}, timeout=0.2).request('GET', '/'),
    # Pyodide's package loader fetches URLs from the JavaScript side
    lambda: pyodide_js.loadPackage('http://127.0.0.1:{port}/x-1.0-py3-none-any.whl'),
]
outcomes = []
for attempt in attempts:
    try:
        attempt()
        outcomes.append('no error')
    except Exception as e:
        outcomes.append(type(e).__name__)
outcomes
"""
    r = sb.run(code)
    assert r.error is None, r.stderr
    assert len(r.value) == 4
    time.sleep(0.5)
    assert got == []


def test_cannot_write_outside_scratch_space(sb: Sandbox, tmp_path: Path) -> None:
    inside = tmp_path / "written-from-sandbox.txt"
    tmp_marker = Path("/tmp") / f"lmdsl-escape-{uuid.uuid4()}"
    r = sb.run(f"open({str(inside)!r}, 'w').write('x')\n")
    assert r.error is not None  # the host directory does not exist inside
    sb.run(f"open({str(tmp_marker)!r}, 'w').write('x')")  # lands in the wasm /tmp, not the host's
    sb.run(
        f"import pyodide_js, os\npyodide_js.mountNodeFS('/mnt', {str(tmp_path)!r})\n"
        "open('/mnt/written-from-sandbox.txt', 'w').write('x')"
    )
    assert not inside.exists()
    assert not tmp_marker.exists()
    assert list(tmp_path.iterdir()) == []


def test_cannot_spawn_processes(sb: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "spawned"
    r = sb.run(f"import subprocess\nsubprocess.run(['touch', {str(marker)!r}])")
    assert r.error is not None and "OSError" in r.error
    r = sb.run(f"import os\nos.system('touch {marker}')")
    assert r.error is not None and r.error.startswith("PermissionError")
    r = sb.run(f"import posix\nposix.system('touch {marker}')")  # the raw call, bypassing os.system
    r = sb.run("import os\nos.fork()")
    assert r.error is not None
    time.sleep(0.2)
    assert not marker.exists()


def test_javascript_bridge_cannot_reach_node(sb: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "js-escape"
    # "js" is an empty object, not Node's globalThis
    assert sb.run("import js\njs.process").error.startswith("AttributeError")
    # a JS function's constructor would compile arbitrary JS, but code generation is disabled
    r = sb.run(
        "import pyodide_js\n"
        f"pyodide_js.runPython.constructor(\"require('fs').writeFileSync('{marker}', 'x')\")()"
    )
    assert r.error is not None and "EvalError" in r.error
    assert not marker.exists()


def test_infinite_loop_hits_the_time_limit() -> None:
    _runtime_or_skip()
    with Sandbox(timeout=1.0, pool_size=1) as box:
        box.start()
        t0 = time.monotonic()
        r = box.run("print('started')\nwhile True:\n    pass")
        elapsed = time.monotonic() - t0
        assert r.error == "TimeoutError: exceeded 1.0 s"
        assert r.stdout == "started\n"  # output streamed before the kill is kept
        assert r.duration < 1.5
        assert elapsed < 1.0 + 4.0  # includes waiting for the pre-started worker to be ready
        # the sandbox is still usable afterwards
        assert box.run("1 + 1").value == 2


@pytest.mark.parametrize(
    "code",
    [
        "x = bytearray(10**9)",
        "chunks = []\nwhile True:\n    chunks.append(b'x' * 10**6)",
    ],
)
def test_memory_hog_hits_the_memory_limit(sb: Sandbox, code: str) -> None:
    r = sb.run(code)
    assert r.error is not None and r.error.startswith("MemoryError"), r


def test_huge_print_hits_the_output_limit(sb: Sandbox) -> None:
    r = sb.run("while True:\n    print('x' * 1000)")
    assert r.error == f"OutputLimit: output exceeded {sb.max_output} characters"
    assert len(r.stdout) <= sb.max_output
    assert r.stdout.startswith("x" * 1000)
    r = sb.run("'y' * 10**6")  # a huge value counts too
    assert r.error is not None and r.error.startswith("OutputLimit")


# --- the boundary itself ---------------------------------------------------------------------


def test_seccomp_layer_is_active_on_linux(sb: Sandbox) -> None:
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip("the seccomp layer exists on Linux x86_64/aarch64 only")
    sb.run("1")
    assert sb.isolation["seccomp"] == "on"


def test_os_layer_holds_even_if_javascript_is_reached(
    listener: tuple[int, list[bytes]], tmp_path: Path
) -> None:
    """Run plain Node (no permission model) under the launcher: seccomp alone must refuse."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip("the seccomp layer exists on Linux x86_64/aarch64 only")
    _runtime_or_skip()
    import lmdsl.sandbox._sandbox as impl

    port, got = listener
    marker = tmp_path / "spawned-by-node"
    script = tmp_path / "probe.cjs"
    script.write_text(
        "const out = {};\n"
        "try { require('child_process').execFileSync('/bin/touch', [process.argv[2]]); out.spawn = 'ok'; }"
        " catch (e) { out.spawn = e.code; }\n"
        "try { process.kill(1, 0); out.kill = 'ok'; } catch (e) { out.kill = e.code; }\n"
        "out.env = Object.keys(process.env).length;\n"
        "const s = require('net').connect(Number(process.argv[3]), '127.0.0.1');\n"
        "s.on('connect', () => { out.net = 'ok'; console.log(JSON.stringify(out)); process.exit(0); });\n"
        "s.on('error', (e) => { out.net = e.code; console.log(JSON.stringify(out)); process.exit(0); });\n"
    )
    rt = impl.find_runtime()
    cmd = [
        sys.executable,
        "-I",
        "-S",
        str(impl.LAUNCHER),
        "{}",
        "--",
        rt.node,
        str(script),
        str(marker),
        str(port),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"spawn": "EPERM", "kill": "EPERM", "env": 0, "net": "EPERM"}
    time.sleep(0.3)
    assert got == [] and not marker.exists()


def test_seccomp_denies_exec_and_sockets_to_any_program() -> None:
    """The filter is not Node-specific: a Python started by the launcher is confined too."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip("the seccomp layer exists on Linux x86_64/aarch64 only")
    import lmdsl.sandbox._sandbox as impl

    probe = (
        "import os, socket, json, sys\n"
        "res = {}\n"
        "for name, fn in [('exec', lambda: os.execv('/bin/true', ['true'])),\n"
        "                 ('fork', os.fork),\n"
        "                 ('unix', lambda: socket.socket(socket.AF_UNIX)),\n"
        "                 ('inet', lambda: socket.socket(socket.AF_INET)),\n"
        "                 ('kill1', lambda: os.kill(1, 0))]:\n"
        "    try:\n"
        "        fn(); res[name] = 'allowed'\n"
        "    except OSError as e:\n"
        "        res[name] = e.errno\n"
        # (Python's own C-locale coercion may add LC_CTYPE; nothing comes from the host)
        "res['env'] = sorted(k for k in os.environ if k != 'LC_CTYPE')\n"
        "print(json.dumps(res))\n"
    )
    real_python = os.path.realpath(sys.executable)
    cmd = [sys.executable, "-I", "-S", str(impl.LAUNCHER), "{}", "--", real_python, "-I", "-S", "-c", probe]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    eperm = 1
    assert json.loads(out.stdout) == {
        "exec": eperm,
        "fork": eperm,
        "unix": eperm,
        "inet": eperm,
        "kill1": eperm,
        "env": [],
    }


def test_import_and_construction_start_nothing() -> None:
    """Importing the package and building a Sandbox must not spawn Node (workers are lazy)."""
    code = (
        "import os, lmdsl.sandbox as s\n"
        "box = s.Sandbox()\n"
        "kids = ''\n"
        "if os.path.isdir('/proc/self/task'):\n"
        "    for t in os.listdir('/proc/self/task'):\n"
        "        with open(f'/proc/self/task/{t}/children') as f: kids += f.read()\n"
        "print(repr(kids.strip()), len(box._idle))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["''", "0"]


def test_missing_runtime_raises_config_error_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import lmdsl.sandbox._sandbox as impl

    monkeypatch.setattr(impl, "_runtime_cache", None)
    monkeypatch.setenv("LMDSL_SANDBOX_PYODIDE", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="npm ci --prefix"):
        Sandbox().run("1")
    monkeypatch.setattr(impl, "_runtime_cache", None)  # let later tests find the real runtime
