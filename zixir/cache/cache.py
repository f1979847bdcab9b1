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

from zixir import serialization
from zixir.cache import env as envs
from zixir.cache.keys import decode_key, encode_key
from zixir.errors import CacheError, CorruptRecordError, SerializationError

__all__ = ["Cache", "CacheStats"]

T = TypeVar("T")
Key = str | bytes
_DEFAULT: Any = object()
_HEADER = struct.Struct(">dI")  # expiry (wall-clock seconds, inf: never), full-key length
_IMMUTABLE = (str, bytes, int, float, bool, type(None), complex)
_flights_lock = threading.Lock()
_flights: dict[tuple[str, bytes], threading.Lock] = {}


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A cache's counters and sizes (this Cache object's hits and misses)."""

    hits: int
    misses: int
    hit_rate: float
    entries: int
    memory_entries: int
    bytes_on_disk: int
    map_size: int


class Cache:
    """A key-value cache stored in an LMDB environment, with an LRU memory tier.

    Args:
        path: Directory of the LMDB environment (created if missing). Several `Cache`
            objects for one path share one environment.
        default_ttl: Seconds an entry lives when `put` gets no `ttl`; None: forever.
        memory_items: Entries kept decoded in memory (LRU); 0 turns the tier off.
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
        if default_ttl is not None and default_ttl <= 0:
            raise ValueError(f"default_ttl must be None or > 0 seconds, got {default_ttl!r}")
        if memory_items < 0:
            raise ValueError(f"memory_items must be >= 0, got {memory_items!r}")
        if map_size < 1 << 20:
            raise ValueError(f"map_size must be at least 1 MiB, got {map_size!r}")
        self._shared = envs.acquire(path, map_size, durable)
        self.path = self._shared.path
        self._env = self._shared.env
        self._durable = durable
        self._default_ttl = default_ttl
        self._clock = clock
        self._memory_items = memory_items
        self._memory: OrderedDict[bytes, tuple[float, Any, bytes | None]] = OrderedDict()
        self._memory_lock = threading.Lock()
        self._seen_txn = -1  # LMDB transaction the memory tier is known to match
        self._hits = 0
        self._misses = 0
        self._closed = False
        with self._shared.write_lock:
            self._db = self._env.open_db(b"kv")

    # ---- reading ----------------------------------------------------------------------

    def get(self, key: Key, default: Any = None) -> Any:
        """The value stored under `key`, or `default` if absent or expired.

        The value is the caller's own: mutating it never changes the cache.

        Raises:
            CorruptRecordError: the record cannot be decoded (other keys stay readable).
        """
        lkey, full = encode_key(key)
        now = self._clock()
        with self._reader() as txn:
            if self._memory_items:  # checked against the snapshot's transaction id
                hit = self._from_memory(lkey, txn.id(), now)
                if hit is not _DEFAULT:
                    self._hits += 1
                    return hit
            record = txn.get(lkey)
        value = self._decode(key, lkey, full, record, now, remember=True)
        if value is _DEFAULT:
            self._misses += 1
            return default
        self._hits += 1
        return value

    def __contains__(self, key: Key) -> bool:
        return self.get(key, _DEFAULT) is not _DEFAULT

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """The present, unexpired entries among `keys`, read in one transaction."""
        now = self._clock()
        found: dict[Key, Any] = {}
        encoded = [(key, *encode_key(key)) for key in keys]
        with self._reader() as txn:
            records = [(key, lkey, full, txn.get(lkey)) for key, lkey, full in encoded]
        for key, lkey, full, record in records:
            value = self._decode(key, lkey, full, record, now, remember=False)
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
        with self._reader() as txn:
            for lkey, record in txn.cursor():
                expires, klen = _HEADER.unpack_from(record)
                if expires <= now:
                    continue
                full = bytes(record[_HEADER.size : _HEADER.size + klen]) if klen else bytes(lkey)
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
        """Stores every item in one transaction (all or nothing)."""
        expires = self._expiry(ttl)
        rows = []
        for key, value in items.items():
            lkey, full = encode_key(key)
            payload = serialization.dumps(value)
            rows.append((lkey, _HEADER.pack(expires, len(full or b"")) + (full or b"") + payload))

        def write(txn: Any) -> None:
            for lkey, record in rows:
                txn.put(lkey, record)

        self._write(write)
        with self._memory_lock:
            for lkey, _ in rows:
                self._memory.pop(lkey, None)

    def delete(self, key: Key) -> bool:
        """Removes `key`; returns whether it was there."""
        lkey, _ = encode_key(key)
        deleted: list[bool] = []
        self._write(lambda txn: deleted.append(bool(txn.delete(lkey))))
        with self._memory_lock:
            self._memory.pop(lkey, None)
        return deleted[-1]

    def get_or_compute(self, key: Key, fn: Callable[[], T], ttl: float | None = _DEFAULT) -> T:
        """The cached value of `key`, or ``fn()`` stored under it if missing.

        Single flight: concurrent callers of a missing key in this process run `fn` once;
        the others wait and get its value. `fn` runs outside every transaction.
        """
        value = self.get(key, _DEFAULT)
        if value is not _DEFAULT:
            return value  # type: ignore[no-any-return]
        lkey, _ = encode_key(key)
        with _flights_lock:
            flight = _flights.setdefault((self.path, lkey), threading.Lock())
        with flight:
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
        self._write(lambda txn: [txn.delete(lkey) for lkey in lkeys])
        with self._memory_lock:
            for lkey in lkeys:
                self._memory.pop(lkey, None)
        return len(doomed)

    def clear(self) -> None:
        """Removes every entry."""
        self._write(lambda txn: txn.drop(self._db, delete=False))
        with self._memory_lock:
            self._memory.clear()

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
        if not isinstance(ttl, (int, float)) or ttl <= 0:
            raise ValueError(f"ttl must be None or > 0 seconds, got {ttl!r}")
        return self._clock() + ttl

    def _reader(self) -> Any:
        try:
            return self._env.begin(db=self._db)
        except lmdb.MapResizedError:  # another process grew the map
            with self._shared.write_lock:
                self._shared.adopt_growth()
            return self._env.begin(db=self._db)

    def _write(self, write: Callable[[Any], Any]) -> None:
        if self._closed:
            raise CacheError(f"{self!r} is closed")
        shared = self._shared
        with shared.write_lock:
            for _ in range(40):
                try:
                    with self._env.begin(write=True, db=self._db) as txn:
                        write(txn)
                        committed = txn.id()
                    break
                except lmdb.MapFullError:
                    shared.grow()
                except lmdb.MapResizedError:
                    shared.adopt_growth()
                except lmdb.Error as exc:
                    raise CacheError(f"cannot write to the cache at {self.path!r}: {exc}") from exc
            else:
                raise CacheError(f"the cache at {self.path!r} could not grow its map enough")
            if self._durable and not shared.syncs_commits:
                self._env.sync(True)
        with self._memory_lock:
            if committed != self._seen_txn + 1:
                self._memory.clear()  # another writer came in between: trust nothing
            self._seen_txn = committed

    def _from_memory(self, lkey: bytes, txn_id: int, now: float) -> Any:
        with self._memory_lock:
            if txn_id != self._seen_txn:
                self._memory.clear()  # something was committed since: the tier may be stale
                self._seen_txn = txn_id
                return _DEFAULT
            entry = self._memory.get(lkey)
            if entry is None:
                return _DEFAULT
            expires, value, payload = entry
            if expires <= now:
                del self._memory[lkey]
                return _DEFAULT
            self._memory.move_to_end(lkey)
        return value if payload is None else serialization.loads(payload)

    def _decode(self, key: Key, lkey: bytes, full: bytes | None, record: bytes | None, now: float, *, remember: bool) -> Any:
        if record is None:
            return _DEFAULT
        try:
            expires, klen = _HEADER.unpack_from(record)
            if expires <= now:
                return _DEFAULT
            stored_key = record[_HEADER.size : _HEADER.size + klen]
            if full is not None and stored_key != full:
                return _DEFAULT  # a different long key with the same hash
            payload = record[_HEADER.size + klen :]
            value = serialization.loads(payload)
        except (struct.error, SerializationError) as exc:
            raise CorruptRecordError(
                f"the record of key {key!r} in the cache at {self.path!r} is corrupt ({exc}); "
                "delete the key to store it again",
                key,
            ) from exc
        if remember and self._memory_items:
            shared_ok = isinstance(value, _IMMUTABLE)
            with self._memory_lock:
                self._memory[lkey] = (expires, value if shared_ok else None, None if shared_ok else bytes(payload))
                self._memory.move_to_end(lkey)
                while len(self._memory) > self._memory_items:
                    self._memory.popitem(last=False)
        return value
