"""Process control shared by the host, the fork server and the workers: prctl, C stdio,
killing a process tree.

Standard library only: the fork server loads this file without importing the zixir package.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

from . import _procfs

__all__ = [
    "PR_SET_CHILD_SUBREAPER",
    "PR_SET_PDEATHSIG",
    "flush_c_stdio",
    "kill_tree",
    "prctl",
]

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def flush_c_stdio() -> None:
    """Flushes C stdio buffers (``fflush(NULL)``): output printed by C code reaches the fds."""
    _c().fflush(None)


def prctl(option: int, value: int) -> None:
    """Calls Linux ``prctl(option, value)``.

    Raises:
        OSError: The call failed (or this is not Linux).
    """
    if _c().prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl({option}, {value}): {os.strerror(errno)}")


def kill_tree(pid: int, pgid: int | None = None) -> list[int]:
    """SIGKILLs `pid`, every process below it and the process group `pgid`.

    The tree is collected before anything is killed: a killed parent's children are
    re-parented and no longer found under it. Group leaders found in the tree (processes
    that called setsid or setpgid) have their whole groups killed too.

    Returns:
        The pids that were signalled (some may have exited already).
    """
    tree = [pid, *_procfs.descendants(pid)]
    groups = [] if pgid is None or pgid <= 1 else [pgid]
    for p in tree[1:]:
        with contextlib.suppress(OSError):  # it exited meanwhile
            if os.getpgid(p) == p:
                groups.append(p)
    for group in groups:  # first the groups: killpg is atomic against fork in the group
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
    signalled: list[int] = []
    for p in tree:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            continue
        signalled.append(p)
    return signalled
