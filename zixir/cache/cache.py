"""`zixir.Cache`: an LMDB-backed key-value cache with TTL and an in-memory hot tier.

Usable from any thread and from several processes at once; entries survive restarts of
the process (and, with ``durable=True``, power loss). See docs/cache.md.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from zixir import _validate, serialization
from zixir.cache import env as envs
from zixir.cache import metrics, warming
from zixir.cache.copies import Entry, entry_of
from zixir.cache.flight import single_flight
from zixir.cache.keys import Key, decode_key, encode_key, memory_key
from zixir.cache.lookup import MISSING, Lookup, Store
from zixir.cache.record import CURRENT_FORMAT, FOREVER, RECORD_HEADER
from zixir.cache.sweep import sweep_expired
from zixir.cache.tables import Tables
from zixir.cache.transaction import Transaction, transact
from zixir.errors import ArgumentTypeError

__all__ = ["Cache", "CacheStats", "check_options"]

T = TypeVar("T")
_HEADER_SIZE = RECORD_HEADER.size
_unpack_header = RECORD_HEADER.unpack_from
_pack_header = RECORD_HEADER.pack


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


class Cache(Lookup, Tables):
    """A key-value cache stored in an LMDB environment, with an LRU memory tier.

    Its state is one internal `Store` (zixir/cache/lookup.py): the read path (`Lookup`),
    the table operations (`Tables`), sweeps and metrics are each handed it.

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
        InvalidArgumentError: a `default_ttl` that is not a finite number > 0, a negative
            `memory_items`, or a `map_size` below 1 MiB (also a ValueError).
        ArgumentTypeError: an argument of the wrong type (also a TypeError).
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
        check_options(
            default_ttl=default_ttl, memory_items=memory_items, durable=durable,
            map_size=map_size, clock=clock,
        )  # fmt: skip
        shared = envs.acquire(path, map_size, durable)
        try:
            store = Store(shared, memory_items, durable, clock)
        except BaseException:
            envs.release(shared)
            raise
        Lookup.__init__(self, store)
        Tables.__init__(self, store)
        self.path = shared.path
        self._default_ttl = default_ttl
        metrics.track(store)

    # ---- reading ----------------------------------------------------------------------

    def keys(self, prefix: Key | None = None) -> list[Key]:
        """Every unexpired key (starting with `prefix`, of the same type, if given).

        A record too damaged to give its expiry or key is left out (`get` of its key
        raises `CorruptRecordError`).
        """
        now = self._store.clock()
        result: list[Key] = []
        with self._store.reading(buffers=True) as txn:  # buffers: no value copies
            for lkey, record in txn.cursor():
                try:
                    expires, klen = _unpack_header(record)
                    if expires <= now or len(record) < _HEADER_SIZE + klen:
                        continue
                    full = bytes(record[_HEADER_SIZE : _HEADER_SIZE + klen]) if klen else bytes(lkey)
                    key = decode_key(full)
                except (struct.error, UnicodeDecodeError):
                    continue
                if prefix is None or (type(key) is type(prefix) and key.startswith(prefix)):  # type: ignore[arg-type]
                    result.append(key)
        return result

    # ---- writing ----------------------------------------------------------------------

    def put(self, key: Key, value: Any, ttl: float | None = MISSING) -> None:
        """Stores `value` under `key`.

        Args:
            key: str or bytes (``"k"`` and ``b"k"`` are different keys).
            value: Anything `zixir.serialization` stores.
            ttl: Seconds to live; omitted: the cache's `default_ttl`; None: forever.

        Raises:
            SerializationError: `value` cannot be stored (nothing is written).
        """
        self.put_many({key: value}, ttl)

    def put_many(self, items: Mapping[Key, Any], ttl: float | None = MISSING) -> None:
        """Stores every item in one transaction (all or nothing); `ttl` as in `put`."""
        expires = self._expiry(ttl)
        rows: list[tuple[bytes, bytes]] = []
        entries: list[tuple[Key, Entry | None]] = []
        tiered = self._store.memory_items > 0
        for key, value in items.items():
            lkey, full = encode_key(key)
            head = _pack_header(expires, len(full)) + full if full else _pack_header(expires, 0)
            record = head + serialization.dumps(value)
            rows.append((lkey, record))
            if tiered:
                entry = entry_of(expires, value)  # a copy: the caller may change `value` later
                if entry is None:
                    entry = (expires, None, record, len(head) + len(CURRENT_FORMAT))
                entries.append((memory_key(key), entry))

        def write(txn: Any) -> None:
            for lkey, record in rows:
                txn.put(lkey, record)

        self._store.write(write, entries)

    def delete(self, key: Key) -> bool:
        """Removes `key`; returns whether a live (unexpired) entry was there (a record too
        damaged to give its expiry is removed too, and counts as not live)."""
        lkey, _ = encode_key(key)
        now = self._store.clock()
        live = [False]

        def write(txn: Any) -> None:
            record = txn.pop(lkey)
            live[0] = record is not None and len(record) >= _HEADER_SIZE and _unpack_header(record)[0] > now

        self._store.write(write, [(memory_key(key), None)])
        return live[0]

    def get_or_compute(self, key: Key, fn: Callable[[], T], ttl: float | None = MISSING) -> T:
        """The cached value of `key`, or ``fn()`` stored under it if missing.

        Single flight: concurrent callers of a missing key in this process run `fn` once;
        the others wait and get its value. `fn` runs outside every transaction.
        """
        value = self.get(key, MISSING)
        if value is not MISSING:
            return value  # type: ignore[no-any-return]
        with single_flight((self.path, encode_key(key)[0])):
            value = self.get(key, MISSING)
            if value is MISSING:
                value = fn()
                self.put(key, value, ttl)
        return value  # type: ignore[no-any-return]

    def transact(self, fn: Callable[[Transaction], T]) -> T:
        """Runs ``fn(txn)`` in one write transaction: reads see every process's commits,
        writes (`Transaction.put`, `Transaction.delete`; no expiry) commit together.

        Writers in every process wait for each other, so a read-modify-write here is
        atomic. `fn` may run again if the map grows: it must only touch `txn`, and be quick.

        Returns:
            What `fn` returns.

        Raises:
            CacheError: the cache is closed or the write failed (nothing of it is stored).
        """
        return transact(self._store, fn)

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
            self._store.write(write, [(k, None) for k in doomed])
        return deleted[0]

    def clear(self) -> None:
        """Removes every entry (table records stay)."""
        self._store.write(lambda txn: txn.drop(self._store.db, delete=False), everything=True)

    def warm(
        self,
        keys: Iterable[Key],
        loader: Callable[[Key], Any],
        *,
        workers: int = 8,
        ttl: float | None = MISSING,
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

    def sweep(self) -> int:
        """Deletes every expired entry in one transaction; returns how many (an entry
        rewritten meanwhile is kept). `CacheActor` runs this on an interval."""
        return sweep_expired(self._store)

    def stats(self) -> CacheStats:
        """Hits, misses and hit rate of this object; entries, disk bytes and map size."""
        store = self._store
        with store.reading() as txn:
            entries = txn.stat(store.db)["entries"]
        data = os.path.join(self.path, "data.mdb")
        total = store.hits + store.misses
        return CacheStats(
            store.hits, store.misses, store.hits / total if total else 0.0, entries,
            len(store.memory), os.path.getsize(data), store.shared.env.info()["map_size"],
        )  # fmt: skip

    def close(self) -> None:
        """Releases the environment (closed when its last user releases it)."""
        store = self._store
        if not store.closed:
            metrics.retire(store)
            store.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Cache({self.path!r}, default_ttl={self._default_ttl!r}, memory_items={self._store.memory_items})"

    # ---- internals --------------------------------------------------------------------

    def _expiry(self, ttl: float | None) -> float:
        if ttl is MISSING:
            ttl = self._default_ttl
        if ttl is None:
            return FOREVER
        if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or not ttl > 0:
            raise ValueError(f"ttl must be None or > 0 seconds, got {ttl!r}")
        return self._store.clock() + ttl


_OPTIONS = ("default_ttl", "memory_items", "durable", "map_size", "clock")


def check_options(**options: Any) -> None:
    """Checks options of `Cache` (all but `path`) before anything is opened; `CacheActor`
    checks its options for `Cache` here too, when it is built.

    Raises:
        InvalidArgumentError: a `default_ttl` that is not a finite number > 0, a negative
            `memory_items`, or a `map_size` below 1 MiB.
        ArgumentTypeError: an option of the wrong type, or one `Cache` does not take.
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ArgumentTypeError(
            f"Cache got unknown option(s) {', '.join(unknown)}; it takes path, {', '.join(_OPTIONS)}",
            unknown[0],
        )
    if "default_ttl" in options:
        _validate.optional_number("default_ttl", options["default_ttl"], above=0)
    if "memory_items" in options:
        _validate.whole("memory_items", options["memory_items"], at_least=0)
    if "map_size" in options:
        _validate.whole("map_size", options["map_size"], at_least=1 << 20)
    if "durable" in options and not isinstance(options["durable"], bool):
        raise ArgumentTypeError(f"durable must be a bool, got {options['durable']!r}", "durable")
    if "clock" in options and not callable(options["clock"]):
        raise ArgumentTypeError(f"clock must be a callable returning seconds, got {options['clock']!r}", "clock")
