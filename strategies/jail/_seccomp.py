"""A small seccomp filter for jailed processes, as a classic BPF program for bwrap's ``--seccomp``.

It refuses what a backtest never needs and an escape would want: new processes
(``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD``; ``clone3`` says ENOSYS so
the C library falls back to ``clone``, whose flags a filter can read), sockets,
tracing and reading other processes' memory, mounts and namespaces, kernel
keyrings, BPF, perf events, io_uring, modules and reboots. Everything else is
allowed: this is a deny list that sits behind the namespaces and the read-only
file system, not the wall itself. Other syscall ABIs on x86-64 (x32, i386) are
killed. Only x86-64 and aarch64 are known; elsewhere ``program()`` returns None
and the jail runs without the filter (its README section says so).
"""

from __future__ import annotations

import errno
import platform
import struct

_LD_ABS_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
ALLOW, KILL = 0x7FFF0000, 0x80000000
CLONE_THREAD = 0x00010000


def _errno(code: int) -> int:
    return 0x00050000 | code


_DENIED = (
    "fork vfork ptrace process_vm_readv process_vm_writev mount umount2 pivot_root chroot unshare setns "
    "bpf perf_event_open userfaultfd keyctl add_key request_key kexec_load kexec_file_load init_module "
    "finit_module delete_module reboot io_uring_setup io_uring_enter io_uring_register socket "
    "open_by_handle_at name_to_handle_at fsopen fsconfig fsmount move_mount open_tree mount_setattr "
    "swapon swapoff acct syslog quotactl iopl ioperm settimeofday clock_settime"
).split()

_ARCHES = {
    "x86_64": (
        0xC000003E,
        {
            "clone": 56,
            "clone3": 435,
            "fork": 57,
            "vfork": 58,
            "ptrace": 101,
            "process_vm_readv": 310,
            "process_vm_writev": 311,
            "mount": 165,
            "umount2": 166,
            "pivot_root": 155,
            "chroot": 161,
            "unshare": 272,
            "setns": 308,
            "bpf": 321,
            "perf_event_open": 298,
            "userfaultfd": 323,
            "keyctl": 250,
            "add_key": 248,
            "request_key": 249,
            "kexec_load": 246,
            "kexec_file_load": 320,
            "init_module": 175,
            "finit_module": 313,
            "delete_module": 176,
            "reboot": 169,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "socket": 41,
            "open_by_handle_at": 304,
            "name_to_handle_at": 303,
            "fsopen": 430,
            "fsconfig": 431,
            "fsmount": 432,
            "move_mount": 429,
            "open_tree": 428,
            "mount_setattr": 442,
            "swapon": 167,
            "swapoff": 168,
            "acct": 163,
            "syslog": 103,
            "quotactl": 179,
            "iopl": 172,
            "ioperm": 173,
            "settimeofday": 164,
            "clock_settime": 227,
        },
    ),
    "aarch64": (
        0xC00000B7,
        {
            "clone": 220,
            "clone3": 435,
            "ptrace": 117,
            "process_vm_readv": 270,
            "process_vm_writev": 271,
            "mount": 40,
            "umount2": 39,
            "pivot_root": 41,
            "chroot": 51,
            "unshare": 97,
            "setns": 268,
            "bpf": 280,
            "perf_event_open": 241,
            "userfaultfd": 282,
            "keyctl": 219,
            "add_key": 217,
            "request_key": 218,
            "kexec_load": 104,
            "kexec_file_load": 294,
            "init_module": 105,
            "finit_module": 273,
            "delete_module": 106,
            "reboot": 142,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "socket": 198,
            "open_by_handle_at": 265,
            "name_to_handle_at": 264,
            "fsopen": 430,
            "fsconfig": 431,
            "fsmount": 432,
            "move_mount": 429,
            "open_tree": 428,
            "mount_setattr": 442,
            "swapon": 224,
            "swapoff": 225,
            "acct": 89,
            "syslog": 116,
            "quotactl": 60,
            "settimeofday": 170,
            "clock_settime": 112,
        },
    ),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes | None:
    """The filter for this machine's architecture (``struct sock_filter`` array), or None."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit, numbers = arch
    denied = [numbers[name] for name in _DENIED if name in numbers]
    ops = [_op(_LD_ABS_W, 4), _op(_JEQ, audit, 1, 0), _op(_RET, KILL), _op(_LD_ABS_W, 0)]
    if audit == 0xC000003E:
        ops += [_op(_JGE, 0x40000000, 0, 1), _op(_RET, KILL)]  # x32 calls
    ops += [_op(_JEQ, numbers["clone3"], 0, 1), _op(_RET, _errno(errno.ENOSYS))]
    ops += [
        _op(_JEQ, numbers["clone"], 0, 4),
        _op(_LD_ABS_W, 16),  # clone's flags (low half)
        _op(_JSET, CLONE_THREAD, 0, 1),
        _op(_RET, ALLOW),
        _op(_RET, _errno(errno.EPERM)),
    ]
    for k, nr in enumerate(denied):
        ops.append(_op(_JEQ, nr, len(denied) - k, 0))
    ops += [_op(_RET, ALLOW), _op(_RET, _errno(errno.EPERM))]
    return b"".join(ops)
