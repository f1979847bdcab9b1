"""One LMDB environment per path per process, shared by every Cache that opens it.

py-lmdb refuses a second Environment for a path in one process, so environments are
reference-counted here; a forked child opens its own instead of using the parent's.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lmdb
from loguru import logger

from zixir.errors import CacheError

__all__ = ["SharedEnv", "acquire", "release"]

_lock = threading.Lock()
_open: dict[str, SharedEnv] = {}


@dataclass(eq=False)
class SharedEnv:
    """An open environment, its users, and the lock that serializes this process's writers."""

    path: str
    env: Any  # lmdb.Environment
    pid: int
    users: int = 0
    syncs_commits: bool = False  # opened with sync=True: every commit is already fsynced
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    def grow(self) -> None:
        """Doubles the map (call with `write_lock` held and no transaction open)."""
        size = self.env.info()["map_size"]
        self.env.set_mapsize(size * 2)
        logger.debug("cache {}: map grown to {} MiB", self.path, size * 2 >> 20)

    def adopt_growth(self) -> None:
        """Takes on a map size grown by another process (with `write_lock` held)."""
        self.env.set_mapsize(0)


def acquire(path: str | os.PathLike[str], map_size: int, durable: bool) -> SharedEnv:
    """Opens (or shares) the environment at `path`.

    Raises:
        CacheError: the path cannot hold an LMDB environment.
    """
    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"cannot create the cache directory {str(directory)!r}: {exc}") from exc
    key = os.path.realpath(directory)
    with _lock:
        shared = _open.get(key)
        if shared is not None and shared.pid != os.getpid():
            shared.env.close()  # inherited across fork: never use it here
            shared = None
        if shared is None:
            data = directory / "data.mdb"
            size = max(map_size, data.stat().st_size if data.exists() else 0)
            try:
                env = lmdb.open(
                    key, map_size=size, max_dbs=8, max_spare_txns=1, sync=durable,
                    metasync=durable, readahead=False, lock=True,
                )  # fmt: skip
            except lmdb.Error as exc:
                raise CacheError(f"cannot open the cache at {key!r}: {exc}") from exc
            env.reader_check()  # frees reader slots left by killed processes
            shared = SharedEnv(key, env, os.getpid(), syncs_commits=durable)
            _open[key] = shared
        shared.users += 1
        return shared


def release(shared: SharedEnv) -> None:
    """Drops one user; the last one closes the environment."""
    with _lock:
        shared.users -= 1
        if shared.users <= 0 and _open.get(shared.path) is shared:
            del _open[shared.path]
            if shared.pid == os.getpid():
                shared.env.close()
