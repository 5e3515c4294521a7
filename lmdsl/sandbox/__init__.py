"""A real isolation boundary for running model-written Python (used by ProgramOfThought).

    >>> from lmdsl.sandbox import Sandbox
    >>> with Sandbox(timeout=5) as sb:
    ...     r = sb.run("x = 6 * 7\\nprint('hi')\\nx")
    >>> (r.stdout, r.value, r.error)
    ('hi\\n', 42, None)

The code runs in CPython compiled to WebAssembly (Pyodide) inside a locked-down Node.js
process; see ``docs/sandbox.md``.  Importing this package is cheap: nothing starts until
the first :meth:`Sandbox.run` (or :meth:`Sandbox.start`).  The runtime is installed with
``npm ci --prefix lmdsl/sandbox`` (see :func:`install_command`).
"""

from lmdsl.sandbox._sandbox import Sandbox, SandboxResult, find_runtime, install_command

__all__ = ["Sandbox", "SandboxResult", "find_runtime", "install_command"]
