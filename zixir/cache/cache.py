"""`zixir.Cache`: an LMDB-backed key-value cache with TTL and an in-memory hot tier.

Usable from any thread and from several processes at once; entries survive restarts of
the process (and, with ``durable=True``, power loss). See docs/cache.md.
"""

from __future__ import annotations

import math
import os
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import lmdb
import msgpack

from zixir import serialization
from zixir.cache import env as envs
from zixir.cache import metrics, warming
from zixir.cache.flight import single_flight
from zixir.cache.keys import MAX_DIRECT, decode_key, encode_key
from zixir.cache.record import RECORD_HEADER
from zixir.cache.table_methods import TableMethods
from zixir.cache.tables import Tables
from zixir.errors import CacheError, CorruptRecordError, SerializationError

__all__ = ["Cache", "CacheStats"]

T = TypeVar("T")
Key = str | bytes
_DEFAULT: Any = object()
_HEADER_SIZE = RECORD_HEADER.size
_unpack_header = RECORD_HEADER.unpack_from
_pack_header = RECORD_HEADER.pack
_loads_body = serialization.loads_body
_unpackb = msgpack.unpackb
_ext_hook = serialization.ext_hook
_CURRENT_FORMAT = serialization.dumps(None)[:2]  # what every value written now starts with
_STR_TAG = b"s"  # keys.py's tag for str keys, inlined on the read path
_SHORT_STR = (MAX_DIRECT - 1) // 4  # str keys this short never need hashing (<= 4 bytes/char)
_IMMUTABLE = frozenset({str, bytes, int, float, bool, type(None), complex})
_FOREVER = math.inf
# How a never-expiring value under a short key, in the current format, starts: such a
# record needs no expiry check and no key check, so `get` decodes it inline.
_PLAIN = RECORD_HEADER.pack(_FOREVER, 0) + _CURRENT_FORMAT
_PLAIN_BODY = len(_PLAIN)
_COMMITS = b"commits"  # named database every write touches, so each commit gets a new id


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A cache's counters and sizes.

    Attributes:
        hits: Gets (and get_many keys) of this Cache object that found a live entry.
        misses: Those that found none.
        hit_rate: hits / (hits + misses), 0.0 before the first get.
        entries: Key-value records stored, counting expired ones not yet swept.
        memory_entries: Entries in this object's memory tier.
        bytes_on_disk: Size of the LMDB data file.
        map_size: The LMDB map size now (it grows when full).
    """

    hits: int
    misses: int
    hit_rate: float
    entries: int
    memory_entries: int
    bytes_on_disk: int
    map_size: int


# A memory-tier entry: expiry, then either the value itself (immutable: shared) or the
# stored record and the offset of the value in it (decoded afresh on every hit: a copy).
_Entry = tuple[float, Any, bytes | None, int]


class Cache(TableMethods):
    """A key-value cache stored in an LMDB environment, with an LRU memory tier.

    Args:
        path: Directory of the LMDB environment (created if missing). Several `Cache`
            objects for one path share one environment.
        default_ttl: Seconds an entry lives when `put` gets no `ttl`; None: forever.
        memory_items: Entries kept in memory (LRU); 0 turns the tier off.
        durable: Also survive power loss (fsync every commit); by default every committed
            write survives a crash of the process, not of the machine.
        map_size: Initial LMDB map size in bytes; it grows by itself when full.
        clock: Wall clock in seconds (TTLs are stored as absolute times, so they hold
            across restarts); injectable for tests.

    Raises:
        ValueError: a negative TTL or memory size, or a map size below 1 MiB.
        CacheError: the environment cannot be opened.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        default_ttl: float | None = None,
        memory_items: int = 10_000,
        durable: bool = False,
        map_size: int = 64 << 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if default_ttl is not None and (not isinstance(default_ttl, (int, float)) or default_ttl <= 0):
            raise ValueError(f"default_ttl must be None or > 0 seconds, got {default_ttl!r}")
        if not isinstance(memory_items, int) or memory_items < 0:
            raise ValueError(f"memory_items must be an int >= 0, got {memory_items!r}")
        if map_size < 1 << 20:
            raise ValueError(f"map_size must be at least 1 MiB, got {map_size!r}")
        self._shared = envs.acquire(path, map_size, durable)
        self.path = self._shared.path
        self._env = self._shared.env
        self._durable = durable
        self._default_ttl = default_ttl
        self._clock = clock
        self._memory_items = memory_items
        self._memory: OrderedDict[Key, _Entry] = OrderedDict()
        self._memory_lock = threading.Lock()
        self._hits = 0  # plain ints on the hot path; metrics.py exports them on scrape
        self._misses = 0
        self._closed = False
        with self._shared.write_lock:
            self._db = self._env.open_db(b"kv")
            self._commits_db = self._env.open_db(_COMMITS)
        with self._reader() as txn:  # the empty tier matches the state of now
            self._seen_txn: int = txn.id()  # the LMDB transaction whose state the tier matches
        self._tables = Tables(self)
        metrics.track(self)

    # ---- reading ----------------------------------------------------------------------

    def get(self, key: Key, default: Any = None) -> Any:
        """The value stored under `key`, or `default` if absent or expired.

        The value is the caller's own: mutating it never changes the cache.

        Raises:
            KeyTypeError: `key` is not str or bytes.
            EmptyKeyError: `key` is empty.
            CorruptRecordError: the record cannot be decoded (other keys stay readable).
        """
        full = None
        if type(key) is str and 0 < len(key) <= _SHORT_STR:  # the common case, inlined
            try:
                lkey = _STR_TAG + key.encode()
            except UnicodeEncodeError:  # a lone surrogate: keys.py passes it through
                lkey = encode_key(key)[0]
        else:
            lkey, full = encode_key(key)
            key = _memory_key(key)
        shared = self._shared
        next(shared.entered)  # the resize gate of env.py, inlined
        try:
            try:
                txn = self._env.begin(db=self._db) if not shared.resizing else self._begin_slowly()
            except lmdb.Error:  # the map was grown by another process, or the cache is closed
                txn = self._begin_slowly()
            with txn:
                snapshot = txn.id() if self._memory_items else None
                if snapshot is not None:
                    with self._memory_lock:
                        entry = self._memory_entry(key, snapshot)
                    if entry is not None:
                        expires, value, record, offset = entry
                        if expires != _FOREVER and expires <= self._clock():
                            self._misses += 1
                            return default  # the stored record has the same expiry
                        self._hits += 1
                        return value if record is None else _loads_body(record, offset)
                record = txn.get(lkey)
        finally:
            next(shared.left)
        if record is None:
            self._misses += 1
            return default
        if record.startswith(_PLAIN):  # serialization.loads_body, inlined
            try:
                value = _unpackb(record[_PLAIN_BODY:], ext_hook=_ext_hook, strict_map_key=False)
            except Exception:  # noqa: BLE001 - msgpack's or a decoder's: the record is bad
                value = self._decode(key, full, record, snapshot)  # raises CorruptRecordError
            if snapshot is not None:
                self._remember(key, snapshot, (_FOREVER, value, record, _PLAIN_BODY))
        else:
            value = self._decode(key, full, record, snapshot)
            if value is _DEFAULT:
                self._misses += 1
                return default
        self._hits += 1
        return value

    def __contains__(self, key: Key) -> bool:
        return self.get(key, _DEFAULT) is not _DEFAULT

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """The present, unexpired entries among `keys`, read in one transaction."""
        found: dict[Key, Any] = {}
        encoded = [(key, *encode_key(key)) for key in keys]
        with self._reader() as txn:
            records = [(key, full, txn.get(lkey)) for key, lkey, full in encoded]
        for key, full, record in records:
            value = self._decode(key, full, record, None)
            if value is _DEFAULT:
                self._misses += 1
            else:
                self._hits += 1
                found[key] = value
        return found

    def keys(self, prefix: Key | None = None) -> list[Key]:
        """Every unexpired key (starting with `prefix`, of the same type, if given)."""
        now = self._clock()
        result: list[Key] = []
        with self._reader(buffers=True) as txn:  # buffers: no value copies
            for lkey, record in txn.cursor():
                expires, klen = _unpack_header(record)
                if expires <= now:
                    continue
                full = bytes(record[_HEADER_SIZE : _HEADER_SIZE + klen]) if klen else bytes(lkey)
                key = decode_key(full)
                if prefix is None or (type(key) is type(prefix) and key.startswith(prefix)):  # type: ignore[arg-type]
                    result.append(key)
        return result

    # ---- writing ----------------------------------------------------------------------

    def put(self, key: Key, value: Any, ttl: float | None = _DEFAULT) -> None:
        """Stores `value` under `key`.

        Args:
            key: str or bytes (``"k"`` and ``b"k"`` are different keys).
            value: Anything `zixir.serialization` stores.
            ttl: Seconds to live; omitted: the cache's `default_ttl`; None: forever.

        Raises:
            SerializationError: `value` cannot be stored (nothing is written).
        """
        self.put_many({key: value}, ttl)

    def put_many(self, items: Mapping[Key, Any], ttl: float | None = _DEFAULT) -> None:
        """Stores every item in one transaction (all or nothing); `ttl` as in `put`."""
        expires = self._expiry(ttl)
        rows: list[tuple[bytes, bytes]] = []
        entries: list[tuple[Key, _Entry | None]] = []
        for key, value in items.items():
            lkey, full = encode_key(key)
            head = _pack_header(expires, len(full)) + full if full else _pack_header(expires, 0)
            record = head + serialization.dumps(value)
            rows.append((lkey, record))
            shared = type(value) in _IMMUTABLE
            body = len(head) + len(_CURRENT_FORMAT)
            entries.append((_memory_key(key), (expires, value if shared else None, None if shared else record, body)))

        def write(txn: Any) -> None:
            for lkey, record in rows:
                txn.put(lkey, record)

        self._write(write, entries)

    def delete(self, key: Key) -> bool:
        """Removes `key`; returns whether a live (unexpired) entry was there."""
        lkey, _ = encode_key(key)
        now = self._clock()
        live = [False]

        def write(txn: Any) -> None:
            record = txn.pop(lkey)
            live[0] = record is not None and _unpack_header(record)[0] > now

        self._write(write, [(_memory_key(key), None)])
        return live[0]

    def get_or_compute(self, key: Key, fn: Callable[[], T], ttl: float | None = _DEFAULT) -> T:
        """The cached value of `key`, or ``fn()`` stored under it if missing.

        Single flight: concurrent callers of a missing key in this process run `fn` once;
        the others wait and get its value. `fn` runs outside every transaction.
        """
        value = self.get(key, _DEFAULT)
        if value is not _DEFAULT:
            return value  # type: ignore[no-any-return]
        with single_flight((self.path, encode_key(key)[0])):
            value = self.get(key, _DEFAULT)
            if value is _DEFAULT:
                value = fn()
                self.put(key, value, ttl)
        return value  # type: ignore[no-any-return]

    def invalidate(self, prefix: Key | None = None, predicate: Callable[[Key], bool] | None = None) -> int:
        """Deletes the keys starting with `prefix` and/or for which `predicate` is true.

        Returns:
            How many entries were deleted.

        Raises:
            ValueError: neither `prefix` nor `predicate` given (use `clear`).
        """
        if prefix is None and predicate is None:
            raise ValueError("invalidate needs prefix= or predicate=; use clear() to remove everything")
        doomed = [k for k in self.keys(prefix) if predicate is None or predicate(k)]
        lkeys = [encode_key(k)[0] for k in doomed]
        deleted = [0]

        def write(txn: Any) -> None:
            deleted[0] = sum(bool(txn.delete(lkey)) for lkey in lkeys)

        if doomed:
            self._write(write, [(k, None) for k in doomed])
        return deleted[0]

    def clear(self) -> None:
        """Removes every entry (table records stay)."""
        self._write(lambda txn: txn.drop(self._db, delete=False), everything=True)

    def warm(
        self,
        keys: Iterable[Key],
        loader: Callable[[Key], Any],
        *,
        workers: int = 8,
        ttl: float | None = _DEFAULT,
        progress: bool | None = None,
    ) -> warming.WarmSummary:
        """Calls ``loader(key)`` for every key on `workers` threads and stores the values.

        Args:
            keys: The keys to load.
            loader: Returns the value of one key; an exception marks that key failed
                without stopping the others.
            workers: Threads running the loader.
            ttl: As in `put`.
            progress: Show a progress bar; by default only when stderr is a terminal.

        Returns:
            The summary: loaded count, failures with reasons, seconds.

        Raises:
            ValueError: `workers` below 1, or a bad `ttl`.
        """
        self._expiry(ttl)  # a bad ttl fails here, not once per key
        return warming.warm(self, keys, loader, workers=workers, ttl=ttl, progress=progress)

    # ---- housekeeping -----------------------------------------------------------------

    def stats(self) -> CacheStats:
        """Hits, misses and hit rate of this object; entries, disk bytes and map size."""
        with self._reader() as txn:
            entries = txn.stat(self._db)["entries"]
        data = os.path.join(self.path, "data.mdb")
        total = self._hits + self._misses
        return CacheStats(
            self._hits, self._misses, self._hits / total if total else 0.0, entries,
            len(self._memory), os.path.getsize(data), self._env.info()["map_size"],
        )  # fmt: skip

    def close(self) -> None:
        """Releases the environment (closed when its last user releases it)."""
        if not self._closed:
            self._closed = True
            self._env = _ClosedEnv()  # reads through a shared environment stop too
            envs.release(self._shared)

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Cache({self.path!r}, default_ttl={self._default_ttl!r}, memory_items={self._memory_items})"

    # ---- internals --------------------------------------------------------------------

    def _expiry(self, ttl: float | None) -> float:
        if ttl is _DEFAULT:
            ttl = self._default_ttl
        if ttl is None:
            return math.inf
        if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or not ttl > 0:
            raise ValueError(f"ttl must be None or > 0 seconds, got {ttl!r}")
        return self._clock() + ttl

    def _reader(self, **begin: Any) -> Any:
        """A read transaction on the key-value database, inside the resize gate."""
        if self._closed:
            raise CacheError(f"{self!r} is closed")
        return self._shared.reading(db=self._db, **begin)

    def _begin_slowly(self) -> Any:
        """Begins for `get`, inside the gate, after a resize or on a closed cache."""
        if self._closed:
            raise CacheError(f"{self!r} is closed")
        return self._shared.begin_after_resize({"db": self._db})

    def _write(self, write: Callable[[Any], Any], touched: Iterable[tuple[Key, _Entry | None]] = (), everything: bool = False) -> None:
        """Runs `write` in a write transaction, then brings the memory tier up to date.

        Args:
            write: Fills the transaction; may run more than once (after the map grows).
            touched: Memory-tier keys written, each with its new entry or None (deleted).
            everything: The write removed every entry.
        """
        if self._closed:
            raise CacheError(f"{self!r} is closed")
        shared = self._shared
        with shared.write_lock:
            try:
                committed = shared.growing(lambda: self._commit(write))
            except lmdb.Error as exc:  # e.g. the disk is full: nothing committed is lost
                raise CacheError(
                    f"cannot write to the cache at {self.path!r}: {exc} (is the disk full?); "
                    "this write was not stored, every earlier one was"
                ) from exc
            if self._durable and not shared.syncs_commits:
                self._env.sync(True)
            with self._memory_lock:
                memory = self._memory
                if everything or committed - 1 != self._seen_txn:
                    memory.clear()  # other commits came in between: trust nothing
                elif self._memory_items:
                    for key, entry in touched:
                        if entry is None:
                            memory.pop(key, None)
                        else:
                            memory[key] = entry
                            memory.move_to_end(key)
                    while len(memory) > self._memory_items:
                        memory.popitem(last=False)
                self._seen_txn = committed

    def _commit(self, write: Callable[[Any], Any]) -> int:
        """One attempt of `_write` (with the write lock held); returns the committed id."""
        txn = self._env.begin(write=True, db=self._db)
        try:
            write(txn)
            # A commit that changes nothing keeps the previous id, which the memory tier
            # would take for its own; this put always changes a page.
            txn.put(b"n", b"", db=self._commits_db)
            committed: int = txn.id()
        except BaseException:
            self._shared.abort(txn)
            raise
        txn.commit()  # on failure LMDB has aborted it already
        return committed

    def _memory_entry(self, key: Key, snapshot: int) -> _Entry | None:
        """The tier's entry for `key` if the tier matches `snapshot` (memory lock held)."""
        seen = self._seen_txn
        if snapshot == seen:
            entry = self._memory.get(key)
            if entry is not None:
                self._memory.move_to_end(key)
            return entry
        if snapshot > seen:  # committed since, maybe by another process: may be stale
            self._memory.clear()
            self._seen_txn = snapshot
        return None  # an older snapshot than the tier's: read LMDB, remember nothing

    def _decode(self, key: Key, full: bytes | None, record: bytes | None, snapshot: int | None) -> Any:
        """The live value in `record`, or _DEFAULT; remembered if read at `snapshot`."""
        if record is None:
            return _DEFAULT
        try:
            expires, klen = _unpack_header(record)
            if expires <= self._clock():
                return _DEFAULT
            offset = _HEADER_SIZE + klen
            if klen and record[_HEADER_SIZE:offset] != full:
                return _DEFAULT  # a different long key with the same hash
            if record.startswith(_CURRENT_FORMAT, offset):
                offset += len(_CURRENT_FORMAT)
                value = _loads_body(record, offset)
            else:  # written in an older format: never kept to copy from
                value, record = serialization.loads(record[offset:]), None
        except (struct.error, SerializationError) as exc:
            raise CorruptRecordError(
                f"the record of key {key!r} in the cache at {self.path!r} is corrupt ({exc}); "
                "delete the key to store it again",
                key,
            ) from exc
        if snapshot is not None:
            self._remember(key, snapshot, (expires, value, record, offset))
        return value

    def _remember(self, key: Key, snapshot: int, entry: _Entry) -> None:
        """Keeps a value read at `snapshot`, unless something was committed since."""
        expires, value, record, offset = entry
        if type(value) in _IMMUTABLE:
            entry = (expires, value, None, 0)  # shared, never copied
        elif record is None:
            return
        with self._memory_lock:
            if snapshot == self._seen_txn:
                memory = self._memory
                memory[key] = entry
                if len(memory) > self._memory_items:
                    memory.popitem(last=False)

class _ClosedEnv:
    """Stands in for the environment of a closed Cache: every read fails over to a check."""

    def begin(self, **begin: Any) -> Any:
        raise lmdb.Error("closed")


def _memory_key(key: Key) -> Key:
    """The memory tier's dict key: the key itself, bytes for other byte buffers."""
    return key if isinstance(key, str) or type(key) is bytes else bytes(key)

