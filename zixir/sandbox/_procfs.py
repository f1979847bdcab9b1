"""Every read of Linux's /proc the sandbox makes: process trees, CPU time, resident memory.

Standard library only: the fork server and the workers load it without the zixir package.
"""

from __future__ import annotations

import os

__all__ = [
    "CLOCK_TICKS",
    "PAGE_SIZE",
    "OwnMemory",
    "children",
    "descendants",
    "rss",
    "tree_usage",
]

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
"""Bytes per page: /proc counts memory in pages."""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
"""Clock ticks per second: /proc/<pid>/stat counts CPU time in ticks."""

# Fields of /proc/<pid>/stat after the command name, counted from 0 (proc(5) numbers them
# from 1 with pid and comm first): utime, stime, cutime, cstime, then rss in pages.
_CPU_FIELDS = slice(11, 15)
_RSS_FIELD = 21
# Fields of /proc/<pid>/statm: size resident shared text lib data dt, all in pages.
_STATM_RSS = 1
_STATM_DATA = 5


def children(pid: int) -> list[int]:
    """The live children of `pid`, from ``/proc/<pid>/task/*/children``."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as file:
                found.extend(int(child) for child in file.read().split())
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, read from ``/proc/<pid>/task/*/children``.

    Cheaper than psutil's recursive scan, which reads all of /proc. Processes that escaped
    (their parent died and they were re-parented) are not below `pid` any more.
    """
    found: list[int] = []
    queue = [pid]
    seen = {pid}
    while queue:
        for child in children(queue.pop()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                queue.append(child)
    return found


def tree_usage(pid: int) -> tuple[float, int] | None:
    """CPU seconds and RSS bytes of `pid` and every process below it, summed.

    CPU time counts each process's own time and that of its reaped children
    (utime + stime + cutime + cstime).

    Returns:
        The sums, or None if `pid` itself cannot be read (it is gone).
    """
    cpu, resident = 0.0, 0
    for index, p in enumerate([pid, *descendants(pid)]):
        try:
            with open(f"/proc/{p}/stat", "rb") as file:
                # The command name may hold spaces and parentheses: split after its last ")".
                fields = file.read().rpartition(b")")[2].split()
        except OSError:
            if index == 0:
                return None
            continue
        cpu += sum(int(f) for f in fields[_CPU_FIELDS]) / CLOCK_TICKS
        resident += int(fields[_RSS_FIELD]) * PAGE_SIZE
    return cpu, resident


def rss(pid: int) -> int | None:
    """The resident memory of `pid` in bytes, from ``/proc/<pid>/statm`` (None if unreadable)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as file:
            return int(file.read().split()[_STATM_RSS]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


def _open(path: str, flags: int) -> int | None:
    try:
        return os.open(path, flags | os.O_CLOEXEC)
    except OSError:
        return None


class OwnMemory:
    """This process's memory, read through file descriptors kept open (one pread a read).

    Args:
        track: Open ``/proc/self/statm`` for `usage`; otherwise `usage` reads nothing and
            gives zeros.
    """

    __slots__ = ("_clear_refs", "_statm")

    def __init__(self, track: bool) -> None:
        self._clear_refs = _open("/proc/self/clear_refs", os.O_WRONLY)
        self._statm = _open("/proc/self/statm", os.O_RDONLY) if track else None

    @property
    def peak_resettable(self) -> bool:
        """Whether `reset_peak` works, so the kernel's peak RSS is per call."""
        return self._clear_refs is not None

    def reset_peak(self) -> None:
        """Resets the kernel's peak RSS (VmHWM, ``ru_maxrss``) to the current RSS."""
        if self._clear_refs is not None:
            os.pwrite(self._clear_refs, b"5", 0)

    def usage(self) -> tuple[int, int]:
        """Resident and data-segment size in bytes; zeros when not tracking."""
        if self._statm is None:
            return 0, 0
        fields = os.pread(self._statm, 256, 0).split()
        return int(fields[_STATM_RSS]) * PAGE_SIZE, int(fields[_STATM_DATA]) * PAGE_SIZE
