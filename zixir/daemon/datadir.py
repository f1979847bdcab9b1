"""A daemon's data directory: an exclusive lock, and ``daemon.json`` once the daemon is ready.

The lock is an ``flock`` on ``<data-dir>/daemon.lock``: the kernel drops it when the process
dies, even by kill -9, so a crashed daemon never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from zixir.errors import DataDirLockedError

__all__ = ["DataDir", "is_held"]


class DataDir:
    """Holds a data directory for one daemon.

    Args:
        path: The directory; created (with its parents) if missing.

    Raises:
        DataDirLockedError: another process holds it.
        OSError: it cannot be created or opened.
    """

    LOCK = "daemon.lock"
    INFO = "daemon.json"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = os.open(self.path / self.LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            holder = self.read_info()
            pid = holder.get("pid") if isinstance(holder, dict) else None
            by = f"the daemon with pid {pid}" if isinstance(pid, int) else "another process"
            raise DataDirLockedError(
                f"data dir {self.path} is in use by {by}; stop it first, or give this daemon another --data-dir",
                str(self.path),
                pid if isinstance(pid, int) else None,
            ) from None

    def write_info(self, info: dict[str, Any]) -> None:
        """Writes ``daemon.json`` atomically (a reader sees the old file or the new one)."""
        target = self.path / self.INFO
        scratch = target.with_suffix(".json.tmp")
        scratch.write_text(json.dumps(info, indent=2) + "\n")
        os.replace(scratch, target)

    def read_info(self) -> dict[str, Any] | None:
        """What ``daemon.json`` says, or None if there is none (or it is unreadable)."""
        try:
            loaded = json.loads((self.path / self.INFO).read_text())
        except (OSError, ValueError):
            return None
        return loaded if isinstance(loaded, dict) else None

    def release(self) -> None:
        """Removes ``daemon.json`` and drops the lock (idempotent)."""
        if self._lock_fd is None:
            return
        (self.path / self.INFO).unlink(missing_ok=True)
        os.close(self._lock_fd)  # closing the descriptor drops the flock
        self._lock_fd = None


def is_held(path: str | os.PathLike[str]) -> bool:
    """Whether a live process holds the lock of the data directory at `path` (a daemon runs
    on it). Takes nothing: the probe's shared lock is dropped before this returns."""
    try:
        fd = os.open(Path(path) / DataDir.LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's lock, if it got one
    return False
