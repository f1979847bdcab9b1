"""Who owns a run: this process's identity (host, pid, start time) and whether a recorded
owner is still alive, so a dead owner's run can be taken over and a live one's cannot.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psutil

__all__ = ["Owner", "alive", "me"]


@dataclass(frozen=True, slots=True)
class Owner:
    """A process that owns a run: the pid alone could be reused after a crash, so the
    process's start time comes with it."""

    host: str
    pid: int
    started: float

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"


_me: Owner | None = None


def me() -> Owner:
    """This process (recomputed after a fork)."""
    global _me
    if _me is None or _me.pid != os.getpid():
        _me = Owner(socket.gethostname(), os.getpid(), _start_time(os.getpid()) or 0.0)
    return _me


def _start_time(pid: int) -> float | None:
    try:
        return round(float(psutil.Process(pid).create_time()), 2)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def alive(owner: Owner) -> bool:
    """Whether `owner` still runs. An owner on another host cannot be checked from here and
    counts as alive (take such a run over by hand: `Workflow.run` after it is gone)."""
    if owner.host != socket.gethostname():
        return True
    if owner.pid == os.getpid():
        return owner.started == me().started
    try:
        process = psutil.Process(owner.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return _start_time(owner.pid) == owner.started
