"""One LMDB environment per path per process, with the one write path and read gate.

py-lmdb refuses a second Environment for a path in one process, so environments are
reference-counted here; a forked child opens its own instead of using the parent's.
`SharedEnv.write`, `SharedEnv.read` and `SharedEnv.open_db` are the internal API every
store on such an environment uses (the cache's key-value entries and tables, and any
other set of named databases): map growth, aborts, the resize gate and error
translation live here once: every py-lmdb error leaves this module as a `CacheError`
naming the path, chained from it (`failure`).
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import lmdb
from loguru import logger

from zixir.cache.datafile import check_data_file
from zixir.cache.meta import MetaPages
from zixir.errors import CacheError
from zixir.observability import events

__all__ = ["SharedEnv", "acquire", "failure", "open_paths", "release"]

T = TypeVar("T")
_lock = threading.Lock()
_open: dict[str, SharedEnv] = {}
# Errors that mean the file itself is damaged: retrying cannot help, restoring can.
_DAMAGE = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError, lmdb.VersionMismatchError, lmdb.PanicError)


# How many growths by other processes a reader adopts in a row before it gives up.
_ADOPTIONS = 100


def failure(path: str, exc: Exception, doing: str) -> CacheError:
    """The `CacheError` to raise (``from exc``) for py-lmdb's error `exc` met while
    `doing` (e.g. ``"reading"``) the cache at `path`: what failed, and the fix."""
    if isinstance(exc, _DAMAGE):
        return CacheError(
            f"{doing} the cache at {path!r} failed: its file is damaged ({exc}); restore "
            f"{os.path.join(path, 'data.mdb')!r} from a copy, or delete it to start an empty cache"
        )
    return CacheError(f"{doing} the cache at {path!r} failed: {exc}")


@dataclass(eq=False)
class SharedEnv:
    """An open environment, its users, the lock serializing this process's writers, and
    the gate that keeps readers out while the map is remapped.

    ``set_mapsize`` remaps the file under every open transaction of the process, and
    py-lmdb reads without the GIL, so no read may be in flight during a resize. Readers
    count themselves in and out (``next()`` on an `itertools.count` is atomic under the
    GIL, far cheaper than a lock); a resize raises `resizing`, waits for the count of
    readers inside to reach zero, remaps, and lowers it again.
    """

    path: str
    env: Any  # lmdb.Environment
    pid: int
    users: int = 0
    syncs_commits: bool = False  # opened with sync=True: every commit is already fsynced
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    entered: Iterator[int] = field(default_factory=itertools.count)
    left: Iterator[int] = field(default_factory=itertools.count)
    resizing: bool = False
    meta: MetaPages | None = None  # the last committed id without a transaction, if readable

    def growing(self, attempt: Callable[[], T]) -> T:
        """Runs `attempt` (with `write_lock` held and no transaction open), growing the map
        or adopting another process's growth and trying again while it does not fit.

        Raises:
            CacheError: the map would not grow enough.
        """
        for _ in range(40):
            try:
                return attempt()
            except lmdb.MapFullError:
                self.grow()
            except lmdb.MapResizedError:
                self.adopt_growth()
        raise CacheError(f"the cache at {self.path!r} could not grow its map enough")

    def write(
        self,
        fill: Callable[[Any], T],
        *,
        db: Any = None,
        sync: bool = False,
        on_commit: Callable[[int], None] | None = None,
    ) -> T:
        """Runs ``fill(txn)`` in a write transaction and commits it: the one write path.

        Takes `write_lock`. When the data does not fit, the transaction is aborted (with
        readers gated out), the map doubles and `fill` runs again in a new transaction, so
        `fill` must only write through `txn` (never call user code: a write transaction
        belongs to its thread). Another process's map growth is adopted the same way.

        Args:
            fill: Writes through the transaction; what it returns is returned.
            db: The transaction's default database (a handle from `open_db`).
            sync: fsync once committed (a no-op when every commit is fsynced already).
            on_commit: Called with the committed transaction's id while `write_lock` is
                still held, so this process's commits reach it in order.

        Raises:
            CacheError: the write failed, e.g. the disk is full; nothing of it is stored,
                every earlier commit is.
        """
        with self.write_lock:
            try:
                result, committed = self.growing(functools.partial(self._commit, fill, db))
            except _DAMAGE as exc:
                raise failure(self.path, exc, "writing to") from exc
            except lmdb.Error as exc:  # e.g. the disk is full: nothing committed is lost
                raise CacheError(
                    f"cannot write to the cache at {self.path!r}: {exc} (is the disk full?); "
                    "this write was not stored, every earlier one was"
                ) from exc
            if sync and not self.syncs_commits:
                try:
                    self.env.sync(True)
                except lmdb.Error as exc:
                    raise failure(self.path, exc, "flushing") from exc
            if on_commit is not None:
                on_commit(committed)
            return result

    def read(self, fn: Callable[[Any], T], **begin: Any) -> T:
        """``fn(txn)`` in a read transaction inside the resize gate (``begin`` as in
        `reading`); `fn` must not keep the transaction or its buffers."""
        with self.reading(**begin) as txn:
            return fn(txn)

    def open_db(self, name: bytes) -> Any:
        """The handle of named database `name`, created if missing (no transaction of
        this thread may be open).

        Raises:
            lmdb.DbsFullError: the environment's named databases are all taken (max_dbs).
            CacheError: another storage failure.
        """
        with self.write_lock:
            try:
                return self.growing(functools.partial(self.env.open_db, name))
            except lmdb.DbsFullError:
                raise
            except _DAMAGE as exc:
                raise failure(self.path, exc, f"opening the database {name!r} of") from exc
            except lmdb.Error as exc:
                raise CacheError(f"cannot open the database {name!r} at {self.path!r}: {exc}") from exc

    def _commit(self, fill: Callable[[Any], T], db: Any) -> tuple[T, int]:
        """One attempt of `write` (write_lock held): the result of `fill` and the txn id."""
        txn = self.env.begin(write=True, db=db)
        try:
            result = fill(txn)
            committed: int = txn.id()
        except BaseException:
            self.abort(txn)
            raise
        txn.commit()  # on failure LMDB has aborted it already
        return result, committed

    def grow(self) -> None:
        """Doubles the map (call with `write_lock` held, no transaction open here)."""
        size = self.env.info()["map_size"]
        self._resize(size * 2)
        mib = size * 2 >> 20
        logger.bind(event=events.CACHE_MAP_GROWN, path=str(self.path), map_size_mib=mib).info(
            "cache {}: map grown to {} MiB", self.path, mib
        )

    def adopt_growth(self) -> None:
        """Takes on a map size grown by another process (with `write_lock` held)."""
        self._resize(0)

    @contextmanager
    def reading(self, **begin: Any) -> Iterator[Any]:
        """A read transaction, inside the gate (``begin`` goes to `Environment.begin`).

        Raises:
            CacheError: py-lmdb failed, beginning or inside the ``with`` block.
        """
        next(self.entered)
        try:
            try:
                txn = self.env.begin(**begin) if not self.resizing else None
            except lmdb.MapResizedError:  # another process grew the map
                txn = None
            with txn if txn is not None else self.begin_after_resize(begin) as txn:
                yield txn
        except lmdb.Error as exc:
            raise failure(self.path, exc, "reading") from exc
        finally:
            next(self.left)

    def begin_after_resize(self, begin: dict[str, Any]) -> Any:
        """Begins for a reader inside the gate that met a resize, once it is over
        (adopting another process's growth if that was the cause)."""
        next(self.left)  # out of the gate while the map changes
        with self.write_lock:  # held by every resize: none runs now
            try:
                for _ in range(_ADOPTIONS):  # the other process may grow the map again meanwhile
                    try:
                        return self.env.begin(**begin)
                    except lmdb.MapResizedError:
                        self.adopt_growth()
                return self.env.begin(**begin)
            except lmdb.Error as exc:
                raise failure(self.path, exc, "reading") from exc
            finally:
                next(self.entered)  # the caller leaves the gate when it is done

    def abort(self, txn: Any) -> None:
        """Aborts a write transaction (with `write_lock` held) with no reader inside: an
        abort after MapFullError otherwise waits for as long as other threads keep reading."""
        with self._exclusive():
            txn.abort()

    def _resize(self, size: int) -> None:
        with self._exclusive():
            self.env.set_mapsize(size)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.resizing = True
        try:
            while _inside(self.left, self.entered) > 0:
                time.sleep(0.0002)  # readers are microseconds long; this is rare
            yield
        finally:
            self.resizing = False


def _inside(left: Iterator[int], entered: Iterator[int]) -> int:
    """Readers inside the gate, or more (never fewer): `left` is read before `entered`.

    Each call advances both counts by one, which leaves their difference unchanged.
    """
    out = next(left)
    return next(entered) - out


def acquire(path: str | os.PathLike[str], map_size: int, durable: bool) -> SharedEnv:
    """Opens (or shares) the environment at `path`.

    A data file that ends before the pages its last commit uses is refused here, before
    LMDB maps it (reading such a page would kill the process with SIGBUS); an open that
    fails releases everything it took.

    Raises:
        CacheError: the path cannot hold an LMDB environment, or its file is damaged.
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
            del _open[key]
            shared = None
        if shared is None:
            shared = _open_env(key, map_size, durable)
            _open[key] = shared
        shared.users += 1
        return shared


def _open_env(key: str, map_size: int, durable: bool) -> SharedEnv:
    """Checks and opens the environment at real path `key`; closes it again on failure."""
    check_data_file(key)
    data = os.path.join(key, "data.mdb")
    try:
        size = max(map_size, os.path.getsize(data) if os.path.exists(data) else 0)
        env = lmdb.open(
            key, map_size=size, max_dbs=64, max_spare_txns=1, sync=durable,
            metasync=durable, readahead=False, lock=True,
        )  # fmt: skip
    except _DAMAGE as exc:
        raise failure(key, exc, "opening") from exc
    except (lmdb.Error, OSError) as exc:
        raise CacheError(f"cannot open the cache at {key!r}: {exc}") from exc
    try:
        env.reader_check()  # frees reader slots left by killed processes
        return SharedEnv(key, env, os.getpid(), syncs_commits=durable, meta=MetaPages.open(key, env))
    except lmdb.Error as exc:
        env.close()
        raise failure(key, exc, "opening") from exc
    except BaseException:
        env.close()
        raise


def open_paths() -> list[str]:
    """The real paths of the environments open in this process."""
    with _lock:
        return [path for path, shared in _open.items() if shared.pid == os.getpid()]


def release(shared: SharedEnv) -> None:
    """Drops one user; the last one closes the environment."""
    with _lock:
        shared.users -= 1
        if shared.users <= 0 and _open.get(shared.path) is shared:
            del _open[shared.path]
            if shared.pid == os.getpid():
                if shared.meta is not None:
                    shared.meta.close()
                shared.env.close()
