// One-shot sandbox worker: CPython (Pyodide, compiled to WebAssembly) inside Node.js.
//
// Lifecycle: load Pyodide, lock down the JavaScript side, print one "ready" line, read ONE
// request line from stdin, run it, print the result line, exit.  A worker is never reused,
// so no state can leak from one run into the next.
//
// Protocol (one JSON object per line on stdout):
//   {"ready": true, "seccomp": "...", "load_ms": n}       once, after start-up
//   {"o": "text"} / {"e": "text"}                          streamed stdout / stderr chunks
//   {"done": {"kind": ..., "value": ..., "error": ...}}    the outcome, then exit
// In --make-snapshot mode the worker instead writes the raw memory snapshot to stdout.
//
// This file is one layer of several (see docs/sandbox.md).  The host starts Node with the
// permission model (no fs reads outside this package, no fs writes, no child processes, no
// workers, no native addons), --disallow-code-generation-from-strings (no eval/new Function,
// so a Python-side handle on a JS function cannot be turned into arbitrary JS), an empty
// environment, and a seccomp filter (no sockets, no new processes).

import childProcess from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const writeSync = fs.writeSync;
const here = path.dirname(fileURLToPath(import.meta.url));

function arg(name, dflt) {
  const prefix = `--${name}=`;
  const hit = process.argv.find((a) => a.startsWith(prefix));
  return hit === undefined ? dflt : hit.slice(prefix.length);
}
const MEMORY_BYTES = Number(arg("memory-bytes", String(256 * 1024 * 1024)));
const MAX_OUTPUT = Number(arg("max-output", "64000"));
const SNAPSHOT = arg("snapshot", "");
const MAKE_SNAPSHOT = process.argv.includes("--make-snapshot");
const SECCOMP = arg("lmdsl-seccomp", "off:not launched through _launch.py");
const MB = Math.round(MEMORY_BYTES / 1048576);
const PYODIDE_DIR = arg("pyodide-dir", path.join(here, "node_modules", "pyodide"));

// Node may leave fd 1 non-blocking when it is a pipe; a synchronous writer must then wait
// for the host to drain it.  Output is written synchronously because Python runs
// synchronously on this thread: nothing queued on the event loop would go out before exit.
const sleeper = new Int32Array(new SharedArrayBuffer(4));
function writeAll(buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }
}

function send(obj) {
  writeAll(Buffer.from(JSON.stringify(obj) + "\n", "utf8"));
}

// --- memory cap ---------------------------------------------------------------------------
// Pyodide's linear memory is exported by the wasm module, so its maximum cannot be set from
// outside; but every growth goes through WebAssembly.Memory.prototype.grow, and Emscripten
// treats a throwing grow() as "out of memory" (malloc returns NULL -> Python MemoryError).
let memoryCapActive = false;
let memoryCapHit = false;
const origGrow = WebAssembly.Memory.prototype.grow;
WebAssembly.Memory.prototype.grow = function grow(pages) {
  if (memoryCapActive && this.buffer.byteLength + pages * 65536 > MEMORY_BYTES) {
    memoryCapHit = true;
    throw new RangeError("lmdsl sandbox memory limit");
  }
  return origGrow.call(this, pages);
};

// --- Node permission model shim -----------------------------------------------------------
// Emscripten's NODEFS reads open-flag constants through process.binding("constants"), which
// the permission model forbids.  Serve exactly that one answer; everything else still throws.
const origBinding = process.binding;
process.binding = function binding(name) {
  if (name === "constants") return { fs: fs.constants, os: {} };
  return origBinding.call(process, name);
};

// --- Python side --------------------------------------------------------------------------
// Runs in the snapshot (or at start-up without one).  Pre-importing common stdlib modules
// makes them instant for user code; they are pristine, so this is not state leaking
// between runs.
const PRELUDE = String.raw`
import ast, builtins, json, linecache, math, os, sys, traceback, types
import re, itertools, functools, collections, fractions, decimal, statistics, datetime
import random, string, heapq, bisect, operator, typing, dataclasses, textwrap

def _denied(*args, **kwargs):
    raise PermissionError("process spawning is disabled in the lmdsl sandbox")

# Pyodide under Node would route os.system to the host shell; the host refuses anyway
# (permission model + seccomp), but this gives the program a clean Python error.
for _name in ("system", "popen", "execv", "execve", "execl", "execle", "execlp", "execlpe",
              "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
              "spawnve", "spawnvp", "spawnvpe", "posix_spawn", "posix_spawnp", "fork",
              "forkpty"):
    if hasattr(os, _name):
        setattr(os, _name, _denied)

os.makedirs("/tmp", exist_ok=True)
os.makedirs("/home/sandbox", exist_ok=True)

_JSON_TYPES = (type(None), bool, int, float, str)

def _jsonable(v, depth=0):
    if depth > 100:
        return False
    t = type(v)
    if t in _JSON_TYPES:
        return True
    if t is list:
        return all(_jsonable(x, depth + 1) for x in v)
    if t is dict:
        return all(type(k) is str and _jsonable(x, depth + 1) for k, x in v.items())
    return False

def _describe(e, memory_mb):
    name = type(e).__name__
    msg = str(e)
    if isinstance(e, MemoryError) and not msg:
        msg = f"out of memory (sandbox limit {memory_mb} MB)"
    return f"{name}: {msg}" if msg else name

def _lmdsl_run(code, max_value, memory_mb):
    """Run code as a fresh __main__; return the outcome as a JSON string."""
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    ns = main.__dict__
    out = {"kind": "none", "value": None, "error": None}
    lines = code.splitlines(True)
    linecache.cache["<sandbox>"] = (len(code), None, lines, "<sandbox>")
    try:
        tree = ast.parse(code, "<sandbox>", "exec")
    except (SyntaxError, ValueError) as e:  # ValueError: source with NUL bytes
        out["error"] = _describe(e, memory_mb)
        try:
            sys.stderr.write("".join(traceback.format_exception_only(e)))
        except BaseException:
            pass
        return json.dumps(out)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    value = None
    try:
        exec(compile(tree, "<sandbox>", "exec"), ns)
        if last is not None:
            value = eval(compile(last, "<sandbox>", "eval"), ns)
    except SystemExit as e:
        if e.code not in (None, 0):
            out["error"] = f"SystemExit: {e.code}"
    except BaseException as e:
        out["error"] = _describe(e, memory_mb)
        try:
            sys.stderr.write("".join(traceback.format_exception(type(e), e, e.__traceback__.tb_next)))
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    if out["error"] is None and value is not None:
        try:
            if _jsonable(value):
                text = json.dumps(value)
                out["kind"] = "json"
            else:
                text = repr(value)
                out["kind"] = "repr"
            if len(text) > max_value:
                out["kind"] = "none"
                out["error"] = f"OutputLimit: value is {len(text)} characters, limit {max_value}"
            else:
                out["value"] = value if out["kind"] == "json" else text
        except BaseException as e:
            out["kind"] = "none"
            out["error"] = _describe(e, memory_mb)
    try:
        return json.dumps(out, ensure_ascii=False)
    except BaseException as e:
        return json.dumps({"kind": "none", "value": None, "error": _describe(e, memory_mb)})
`;

async function load() {
  const { loadPyodide } = await import(path.join(PYODIDE_DIR, "pyodide.mjs"));
  const opts = {
    indexURL: PYODIDE_DIR + path.sep,
    // The Python "js" module sees this empty object instead of Node's globalThis.
    jsglobals: Object.create(null),
    env: { HOME: "/home/sandbox", LANG: "C.UTF-8" },
    stdin: () => null,
    checkAPIVersion: true,
  };
  if (MAKE_SNAPSHOT) opts._makeSnapshot = true;
  else if (SNAPSHOT) opts._loadSnapshot = fs.readFileSync(SNAPSHOT);
  const py = await loadPyodide(opts);
  if (!SNAPSHOT || MAKE_SNAPSHOT) py.runPython(PRELUDE, { globals: py.globals });
  return py;
}

function lockDown() {
  // Defence in depth on the JS side.  The real guarantees come from the layers around the
  // process (permission model, seccomp, no code generation from strings); these remove the
  // convenient handles that Pyodide leaves on the global object in Node.
  for (const name of ["require", "fetch", "WebSocket", "XMLHttpRequest", "EventSource"]) {
    try {
      delete globalThis[name];
    } catch {}
  }
  // Emscripten's system() in Node calls child_process.spawnSync with a shell.  The
  // permission model and seccomp refuse it anyway, but as a thrown JS error that kills the
  // interpreter; answering "exit status 127" (command not found) keeps Python alive.
  for (const name of ["spawnSync", "execSync", "execFileSync", "spawn", "exec", "execFile", "fork"]) {
    try {
      childProcess[name] = () => ({ status: 127, signal: null, output: [], pid: 0 });
    } catch {}
  }
  for (const name of ["binding", "_linkedBinding", "dlopen", "getBuiltinModule", "kill", "chdir"]) {
    try {
      process[name] = () => {
        throw new Error(`process.${name} is disabled in the lmdsl sandbox`);
      };
    } catch {}
  }
}

function readRequest() {
  return new Promise((resolve, reject) => {
    let buf = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk) => {
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        process.stdin.pause();
        resolve(buf.slice(0, nl));
      }
    });
    process.stdin.on("end", () => reject(new Error("stdin closed before a request arrived")));
    process.stdin.on("error", reject);
  });
}

function makeWriter(key, budget) {
  const decoder = new TextDecoder("utf-8");
  return {
    isatty: false,
    write(bytes) {
      if (budget.overflow) throw new Error("output limit exceeded");
      let text = decoder.decode(bytes, { stream: true });
      const room = MAX_OUTPUT - budget.used;
      if (text.length > room) {
        text = text.slice(0, Math.max(room, 0));
        budget.overflow = true;
      }
      budget.used += text.length;
      if (text) send({ [key]: text });
      if (budget.overflow) throw new Error("output limit exceeded");
      return bytes.length;
    },
  };
}

async function main() {
  const t0 = performance.now();
  const py = await load();
  if (MAKE_SNAPSHOT) {
    const snap = py.makeMemorySnapshot();
    writeAll(snap);
    process.exit(0);
  }
  const run = py.globals.get("_lmdsl_run");
  lockDown();
  send({ ready: true, seccomp: SECCOMP, load_ms: Math.round(performance.now() - t0), snapshot: Boolean(SNAPSHOT) });

  const req = JSON.parse(await readRequest());
  const budget = { used: 0, overflow: false };
  py.setStdout(makeWriter("o", budget));
  py.setStderr(makeWriter("e", budget));
  // A snapshot freezes the random module's state: reseed so runs do not repeat each other.
  py.runPython("import random as _r; _r.seed(); del _r");
  memoryCapActive = true;
  // The outcome is JSON made by Python; it is passed through verbatim (it may contain NaN,
  // which Python's json accepts but JSON.parse does not).
  let doneJson = null;
  let fallback = null;
  try {
    doneJson = run(req.code, MAX_OUTPUT, MB);
  } catch (e) {
    const msg = String((e && e.message) || e).split("\n")[0];
    const exit = /Program terminated with exit\((-?\d+)\)/.exec(msg);
    if (exit) {
      // os._exit(n): treat like sys.exit(n).
      fallback = exit[1] === "0" ? null : `SystemExit: ${exit[1]}`;
    } else if (memoryCapHit) {
      // Pyodide fatal error after a failed allocation in C code that could not cope.
      fallback = `MemoryError: out of memory (sandbox limit ${MB} MB)`;
    } else {
      fallback = `SandboxError: the interpreter failed: ${msg}`;
    }
  }
  memoryCapActive = false;
  if (budget.overflow) {
    doneJson = null;
    fallback = `OutputLimit: output exceeded ${MAX_OUTPUT} characters`;
  }
  if (doneJson === null) doneJson = JSON.stringify({ kind: "none", value: null, error: fallback });
  writeAll(Buffer.from(`{"done":${doneJson}}\n`, "utf8"));
  process.exit(0);
}

main().catch((e) => {
  try {
    send({ fatal: String((e && e.stack) || e) });
  } catch {}
  process.exit(70);
});
