"""Start one sandbox worker: lock the process down at the OS level, then exec Node.js.

This file runs as its own short-lived interpreter (``python -I -S _launch.py``), never
imported by the host.  Why a separate process instead of ``subprocess.Popen(preexec_fn=...)``:
``preexec_fn`` runs between ``fork`` and ``exec`` in a copy of a possibly multi-threaded
host, where calling into ctypes can deadlock on a lock held by another thread.  A fresh
single-threaded interpreter can set limits and install a seccomp filter safely, and the
filter and limits survive the ``execve`` into Node.

What it applies (each is a layer *below* the WebAssembly and Node permission layers, so it
still holds if model-written code ever reaches the JavaScript side):

* resource limits: no core files, no writing to regular files (``RLIMIT_FSIZE=0``), few
  file descriptors, a CPU-seconds ceiling;
* a seccomp-BPF filter (Linux x86_64 / aarch64): no sockets of any family (so no network,
  not even loopback or Unix sockets), no new processes (``fork``/``vfork``/``clone``
  without ``CLONE_THREAD``), no ``execve`` (the process cannot become another program), no signals or ``prlimit`` aimed at other processes, and no
  ptrace, mount, namespace, BPF, io_uring, keyring or module syscalls;
* an empty environment: the host's variables never reach Node.

Usage: ``_launch.py CONFIG_JSON -- NODE_ARGV...``; CONFIG_JSON holds ``cpu_seconds``,
``nofile`` and ``seccomp`` (bool).  The filter's state is appended to Node's argv as
``--lmdsl-seccomp=on`` or ``--lmdsl-seccomp=off:<reason>`` so that the runner can report
it to the host in its ready message.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import resource
import struct
import sys
from typing import TypedDict

# --- seccomp constants -------------------------------------------------------------------
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1
ENOSYS = 38

BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
BPF_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K

CLONE_THREAD = 0x00010000

# offsets into struct seccomp_data
OFF_NR = 0
OFF_ARCH = 4
OFF_ARG0_LO = 16  # little-endian low 32 bits of args[0]

# Syscall numbers per architecture.  Only syscalls that Node.js never needs for running
# Pyodide are denied; ``clone3`` answers ENOSYS so glibc falls back to ``clone``, whose
# flags a classic BPF filter can inspect (``clone3`` passes them in memory).
class _Arch(TypedDict):
    audit: int  # AUDIT_ARCH_* value seccomp_data.arch holds
    x32_bit: int | None  # None where the architecture has no x32 ABI
    deny: dict[str, int]
    clone: int
    clone3: int
    self_pid_only: dict[str, int]
    pid_or_zero: set[str]


# fmt: off
ARCHES: dict[str, _Arch] = {
    "x86_64": {
        "audit": 0xC000003E,
        "x32_bit": 0x40000000,
        "deny": {
            "socket": 41, "socketpair": 53, "fork": 57, "vfork": 58, "ptrace": 101,
            "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "acct": 163,
            "swapon": 167, "swapoff": 168, "reboot": 169, "sethostname": 170,
            "setdomainname": 171, "init_module": 175, "delete_module": 176,
            "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250,
            "unshare": 272, "perf_event_open": 298, "setns": 308,
            "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313,
            "bpf": 321, "execve": 59, "userfaultfd": 323, "io_uring_setup": 425,
            "io_uring_enter": 426, "io_uring_register": 427, "pidfd_open": 434,
            "pidfd_send_signal": 424, "pidfd_getfd": 438, "process_madvise": 440,
            "kcmp": 312, "name_to_handle_at": 303, "open_by_handle_at": 304,
            "mount_setattr": 442, "move_mount": 429, "open_tree": 428, "fsopen": 430,
            "fsconfig": 431, "fsmount": 432, "fspick": 433,
        },
        "clone": 56,
        "clone3": 435,
        "self_pid_only": {"kill": 62, "tgkill": 234, "rt_sigqueueinfo": 129,
                          "rt_tgsigqueueinfo": 297, "prlimit64": 302},
        "pid_or_zero": {"prlimit64"},
    },
    "aarch64": {
        "audit": 0xC00000B7,
        "x32_bit": None,
        "deny": {
            "socket": 198, "socketpair": 199, "ptrace": 117, "mount": 40, "umount2": 39,
            "pivot_root": 41, "chroot": 51, "acct": 89, "swapon": 224, "swapoff": 225,
            "reboot": 142, "sethostname": 161, "setdomainname": 162, "init_module": 105,
            "delete_module": 106, "kexec_load": 104, "add_key": 217, "request_key": 218,
            "keyctl": 219, "unshare": 97, "perf_event_open": 241, "setns": 268,
            "process_vm_readv": 270, "process_vm_writev": 271, "finit_module": 273,
            "bpf": 280, "execve": 221, "userfaultfd": 282, "io_uring_setup": 425,
            "io_uring_enter": 426, "io_uring_register": 427, "pidfd_open": 434,
            "pidfd_send_signal": 424, "pidfd_getfd": 438, "process_madvise": 440,
            "kcmp": 272, "name_to_handle_at": 264, "open_by_handle_at": 265,
            "mount_setattr": 442, "move_mount": 429, "open_tree": 428, "fsopen": 430,
            "fsconfig": 431, "fsmount": 432, "fspick": 433,
        },
        "clone": 220,
        "clone3": 435,
        "self_pid_only": {"kill": 129, "tgkill": 131, "rt_sigqueueinfo": 138,
                          "rt_tgsigqueueinfo": 240, "prlimit64": 261},
        "pid_or_zero": {"prlimit64"},
    },
}
# fmt: on


def _ins(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def build_filter(machine: str, pid: int) -> bytes:
    """Return the BPF program (a packed ``struct sock_filter`` array) for ``machine``.

    Layout: check the architecture, load the syscall number, one compare per denied
    syscall jumping to a shared ``ERRNO(EPERM)`` return, then small argument checks for
    ``clone`` and the signal/prlimit family, and finally ``ALLOW``.  Instructions are
    written symbolically (jump targets ``"allow"``/``"deny"``/``"enosys"`` or a skip count)
    and resolved to relative offsets at the end.
    """
    arch = ARCHES[machine]
    deny_nrs: dict[str, int] = arch["deny"]
    self_only: dict[str, int] = arch["self_pid_only"]
    pid_or_zero: set[str] = arch["pid_or_zero"]
    Target = str | int  # a label, or how many instructions to skip

    body: list[tuple[int, int, Target, Target]] = []

    def emit(code: int, k: int, jt: Target = 0, jf: Target = 0) -> None:
        body.append((code, k, jt, jf))

    emit(BPF_LD_W_ABS, OFF_ARCH)
    emit(BPF_JEQ_K, int(arch["audit"]), 0, "enosys")
    emit(BPF_LD_W_ABS, OFF_NR)
    if arch["x32_bit"]:
        emit(BPF_JGE_K, int(arch["x32_bit"]), "enosys", 0)
    for nr in sorted(deny_nrs.values()):
        emit(BPF_JEQ_K, nr, "deny", 0)
    emit(BPF_JEQ_K, int(arch["clone3"]), "enosys", 0)
    # clone: allow thread creation only (no fork, no posix_spawn).
    emit(BPF_JEQ_K, int(arch["clone"]), 0, 2)
    emit(BPF_LD_W_ABS, OFF_ARG0_LO)
    emit(BPF_JSET_K, CLONE_THREAD, "allow", "deny")
    # kill family and prlimit64: the first argument must be this very process (a prlimit64
    # pid of 0 also means "self").
    for name, nr in sorted(self_only.items()):
        if name in pid_or_zero:
            emit(BPF_JEQ_K, nr, 0, 3)
            emit(BPF_LD_W_ABS, OFF_ARG0_LO)
            emit(BPF_JEQ_K, pid, "allow", 0)
            emit(BPF_JEQ_K, 0, "allow", "deny")
        else:
            emit(BPF_JEQ_K, nr, 0, 2)
            emit(BPF_LD_W_ABS, OFF_ARG0_LO)
            emit(BPF_JEQ_K, pid, "allow", "deny")
    n = len(body)
    labels = {"allow": n, "deny": n + 1, "enosys": n + 2}

    def rel(target: Target, i: int) -> int:
        off = target if isinstance(target, int) else labels[target] - i - 1
        if not 0 <= off <= 255:
            raise ValueError("BPF jump out of range")
        return off

    prog = [_ins(code, rel(jt, i), rel(jf, i), k) for i, (code, k, jt, jf) in enumerate(body)]
    prog += [
        _ins(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        _ins(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
        _ins(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS),
    ]
    return b"".join(prog)


def install_seccomp() -> str:
    """Install the filter for this process and its future children; return a status word."""
    if sys.platform != "linux":
        return f"off:{sys.platform} has no seccomp"
    machine = platform.machine()
    if machine not in ARCHES:
        return f"off:no filter for {machine}"
    filt = build_filter(machine, os.getpid())
    n = len(filt) // 8
    buf = ctypes.create_string_buffer(filt, len(filt))

    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(n, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"off:no_new_privs failed errno {ctypes.get_errno()}"
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        return f"off:seccomp failed errno {ctypes.get_errno()}"
    return "on"


def set_limits(cpu_seconds: int, nofile: int) -> None:
    """Apply rlimits that hold at the OS level whatever the code inside manages to reach."""
    for res, value in (
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_NOFILE, nofile),
        (resource.RLIMIT_CPU, cpu_seconds),
    ):
        try:
            _soft, hard = resource.getrlimit(res)
            new_hard = value if hard == resource.RLIM_INFINITY or value < hard else hard
            resource.setrlimit(res, (min(value, new_hard), new_hard))
        except (ValueError, OSError):  # pragma: no cover - limit not supported here
            pass


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: _launch.py CONFIG_JSON -- NODE ARGS...\n")
        sys.exit(2)
    config = json.loads(argv[0])
    node_argv = argv[2:]
    set_limits(int(config.get("cpu_seconds", 60)), int(config.get("nofile", 256)))
    state = install_seccomp() if config.get("seccomp", True) else "off:disabled"
    # The runner reads the layer state from its argv so it can report it to the host.
    node_argv = [*node_argv, f"--lmdsl-seccomp={state}"]
    # The filter denies execve(2), so that nothing started inside can replace the process
    # with another program (which would shed Node's permission model).  Node is started
    # here through an open file descriptor instead: os.execve(fd, ...) is fexecve(3), which
    # glibc implements with execveat(fd, "", ..., AT_EMPTY_PATH), which stays allowed and
    # which no Node API can reach.
    fd = os.open(node_argv[0], os.O_RDONLY)  # not O_CLOEXEC: fexecve of a script needs it
    try:
        os.execve(fd, node_argv, {})
    except OSError as e:
        sys.stderr.write(f"lmdsl sandbox launcher: cannot exec {node_argv[0]}: {e}\n")
        sys.exit(71)


if __name__ == "__main__":
    main(sys.argv[1:])
