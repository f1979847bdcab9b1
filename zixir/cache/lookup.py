"""The cache's store (environment, memory tier, counters) and its read side: `get`,
`get_many`, ``in``.

Plain Python that Cython compiles as is when the package is built (lookup.pxd adds the
C types); ``ZIXIR_PUREPYTHON=1`` runs this source instead. Keep it free of anything
Cython compiles differently from Python.
"""

from __future__ import annotations

import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import lmdb
import msgpack

from zixir import serialization
from zixir.cache import env as envs
from zixir.cache.copies import DEEP, Entry, copy_value, entry_of
from zixir.cache.keys import MAX_DIRECT, Key, encode_key, memory_key
from zixir.cache.record import CURRENT_FORMAT, FOREVER, RECORD_HEADER
from zixir.errors import CacheError, CorruptRecordError, SerializationError

__all__ = ["MISSING", "Lookup", "Store"]

#: What a lookup of an absent or expired key gives inside the cache.
MISSING: Any = object()

_HEADER_SIZE = RECORD_HEADER.size
_unpack_header = RECORD_HEADER.unpack_from
_loads_body = serialization.loads_body
_unpackb = msgpack.unpackb
_ext_hook = serialization.ext_hook
_STR_TAG = b"s"  # keys.py's tag for str keys, inlined on the read path
_SHORT_STR = (MAX_DIRECT - 1) // 4  # str keys this short never need hashing (<= 4 bytes/char)
# How a never-expiring value under a short key, in the current format, starts: such a
# record needs no expiry check and no key check, so `get` decodes it inline.
_PLAIN = RECORD_HEADER.pack(FOREVER, 0) + CURRENT_FORMAT
_PLAIN_BODY = len(_PLAIN)
_COMMITS = b"commits"  # named database every write touches, so each commit gets a new id


class Store:
    """Everything one `zixir.Cache` object keeps: its environment and key-value database,
    its write path, its memory tier and its counters.

    `Lookup` (the read path), `Tables`, the sweeper and the metrics collector are each
    handed this object; its attributes are theirs to read. Writes that touch the tier
    go through `write`, reads of it hold `memory_lock`.

    Args:
        shared: The environment, shared with every Cache of the path in this process.
        memory_items: Entries kept in the memory tier; 0: no tier.
        durable: fsync every commit.
        clock: Wall clock in seconds, for expiry.

    Raises:
        CacheError: the databases cannot be opened.
    """

    shared: envs.SharedEnv
    env: Any  # lmdb.Environment, or a stand-in that refuses once the cache is closed
    db: Any  # the key-value database
    commits_db: Any
    path: str
    clock: Callable[[], float]
    memory: OrderedDict[Key, Entry]
    meta: Any  # words of LMDB's meta pages (meta.MetaPages.view), or None: begin a txn
    meta_first: int
    meta_second: int
    memory_lock: threading.Lock
    entered: Any  # the resize gate's counters (env.py), looked up once
    left: Any
    memory_items: int
    seen_txn: int  # the LMDB transaction whose state the memory tier matches
    hits: int  # plain ints on the hot path; metrics.py exports them on scrape
    misses: int
    closed: bool
    durable: bool

    def __init__(self, shared: envs.SharedEnv, memory_items: int, durable: bool, clock: Callable[[], float]) -> None:
        self.shared = shared
        self.env = shared.env
        self.path = shared.path
        self.db = shared.open_db(b"kv")
        self.commits_db = shared.open_db(_COMMITS)
        self.clock = clock
        self.memory = OrderedDict()
        pages = shared.meta
        self.meta = None if pages is None else pages.view
        self.meta_first = 0 if pages is None else pages.first
        self.meta_second = 0 if pages is None else pages.second
        self.memory_lock = threading.Lock()
        self.entered = shared.entered
        self.left = shared.left
        self.memory_items = memory_items
        self.hits = 0
        self.misses = 0
        self.closed = False
        self.durable = durable
        with shared.reading(db=self.db) as txn:  # the empty tier matches the state of now
            self.seen_txn = txn.id()

    def reading(self, **begin: Any) -> Any:
        """A read transaction on the key-value database, inside the resize gate."""
        if self.closed:
            raise CacheError(f"the cache at {self.path!r} is closed")
        return self.shared.reading(db=self.db, **begin)

    def begin_slowly(self) -> Any:
        """Begins for `get`, inside the gate, after a resize or on a closed cache."""
        if self.closed:
            raise CacheError(f"the cache at {self.path!r} is closed")
        return self.shared.begin_after_resize({"db": self.db})

    def write(
        self,
        fill: Callable[[Any], Any],
        touched: Iterable[tuple[Key, Entry | None]] = (),
        everything: bool = False,
    ) -> None:
        """Runs `fill` in a write transaction (`SharedEnv.write`), then brings the memory
        tier up to date.

        Args:
            fill: Fills the transaction (its default database: key-value); may run more
                than once (after the map grows).
            touched: Memory-tier keys written, each with its new entry or None (deleted).
            everything: The write removed every entry.

        Raises:
            CacheError: the cache is closed, or the write failed.
        """
        if self.closed:
            raise CacheError(f"the cache at {self.path!r} is closed")

        def marked(txn: Any) -> None:
            fill(txn)
            # A commit that changes nothing keeps the previous id, which the memory tier
            # would take for its own; this put always changes a page.
            txn.put(b"n", b"", db=self.commits_db)

        def update_tier(committed: int) -> None:
            with self.memory_lock:
                memory = self.memory
                if everything or committed - 1 != self.seen_txn:
                    memory.clear()  # other commits came in between: trust nothing
                elif self.memory_items:
                    for key, entry in touched:
                        if entry is None:
                            memory.pop(key, None)
                        else:
                            memory[key] = entry
                            memory.move_to_end(key)
                    while len(memory) > self.memory_items:
                        memory.popitem(last=False)
                self.seen_txn = committed

        self.shared.write(marked, db=self.db, sync=self.durable, on_commit=update_tier)

    def close(self) -> bool:
        """Releases the environment; False if this store was closed already."""
        if self.closed:
            return False
        self.closed = True
        self.meta = None  # hits go through a read transaction, which fails from now on
        self.env = _ClosedEnv()  # reads through a shared environment stop too
        with self.memory_lock:
            self.memory.clear()
        envs.release(self.shared)
        return True

    def outdated(self, snapshot: int) -> None:
        """Called (memory lock held) when a read at `snapshot` finds the tier matching
        another state: a newer snapshot empties it (anyone may have committed since, in
        any process); after an older one, the reader reads LMDB and remembers nothing."""
        if snapshot > self.seen_txn:
            self.memory.clear()
            self.seen_txn = snapshot

    def decode(self, key: Key, full: bytes | None, record: bytes | None, snapshot: int) -> Any:
        """The live value in `record`, or MISSING; remembered if read at `snapshot` (> 0)."""
        if record is None:
            return MISSING
        try:
            expires, klen = _unpack_header(record)
            if expires <= self.clock():
                return MISSING
            offset = _HEADER_SIZE + klen
            if klen and record[_HEADER_SIZE:offset] != full:
                return MISSING  # a different long key with the same hash
            if record.startswith(CURRENT_FORMAT, offset):
                offset += len(CURRENT_FORMAT)
                value = _loads_body(record, offset)
            else:  # written in an older format: never kept to copy from
                value, record = serialization.loads(record[offset:]), None
        except (struct.error, SerializationError) as exc:
            raise CorruptRecordError(
                f"the record of key {key!r} in the cache at {self.path!r} is corrupt ({exc}); "
                "delete the key to store it again",
                key,
            ) from exc
        if snapshot:
            self.remember(key, snapshot, (expires, value, record, offset))
        return value

    def remember(self, key: Key, snapshot: int, entry: Entry) -> None:
        """Keeps a value read at `snapshot`, unless something was committed since."""
        expires, value, record, offset = entry
        kept = entry_of(expires, value)
        if kept is not None:
            entry = kept
        elif record is None:
            return
        else:
            entry = (expires, None, record, offset)
        with self.memory_lock:
            if snapshot == self.seen_txn:
                memory = self.memory
                memory[key] = entry
                if len(memory) > self.memory_items:
                    memory.popitem(last=False)


class _ClosedEnv:
    """Stands in for the environment of a closed Cache: every read fails over to a check."""

    def begin(self, *args: Any, **kwargs: Any) -> Any:
        raise lmdb.Error("closed")


class Lookup:
    """Reads key-value entries of a `Store` through the resize gate and its memory tier.

    The base of `zixir.Cache`: `get` is the hot path, so the cache inherits it rather
    than forwarding to it.

    Args:
        store: The cache's store.
    """

    _store: Store

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: Key, default: Any = None) -> Any:
        """The value stored under `key`, or `default` if absent or expired.

        The value is the caller's own: mutating it never changes the cache.

        Raises:
            KeyTypeError: `key` is not str or bytes.
            EmptyKeyError: `key` is empty.
            CorruptRecordError: the record cannot be decoded (other keys stay readable).
            CacheError: the storage failed, e.g. a damaged page of the file.
        """
        full = None
        if type(key) is str and 0 < len(key) <= _SHORT_STR:  # the common case, inlined
            try:
                lkey = _STR_TAG + key.encode()
            except UnicodeEncodeError:  # a lone surrogate: keys.py passes it through
                lkey = encode_key(key)[0]
        else:
            lkey, full = encode_key(key)
            key = memory_key(key)
        store = self._store
        snapshot = 0  # 0: no memory tier (LMDB's transaction ids start at 1)
        entry = None
        if store.memory_items and store.meta is not None:  # does the tier match the last commit?
            meta = store.meta
            try:
                last = meta[store.meta_first]
                second = meta[store.meta_second]
            except ValueError:  # the cache was closed meanwhile: the slow path says so
                last = second = 0
            if second > last:
                last = second
            if last == store.seen_txn:
                memory = store.memory
                with store.memory_lock:
                    if last == store.seen_txn:
                        entry = memory.get(key)
                        if entry is not None:
                            memory.move_to_end(key)
        if entry is None:
            next(store.entered)  # the resize gate of env.py, inlined
            try:
                try:
                    # db positionally: py-lmdb parses keywords far slower
                    txn = store.env.begin(store.db) if not store.shared.resizing else store.begin_slowly()
                except lmdb.Error:  # the map was grown by another process, or the cache is closed
                    txn = store.begin_slowly()
                try:
                    if store.memory_items:
                        snapshot = txn.id()
                        memory = store.memory
                        with store.memory_lock:  # Store.outdated's fast case, inlined
                            if snapshot == store.seen_txn:
                                entry = memory.get(key)
                                if entry is not None:
                                    memory.move_to_end(key)
                            else:
                                store.outdated(snapshot)
                    if entry is None:
                        record = txn.get(lkey)
                except lmdb.Error as exc:  # e.g. a damaged page
                    raise envs.failure(store.path, exc, "reading") from exc
                finally:
                    txn.abort()  # a read transaction: what `with` would do, without its cost
            finally:
                next(store.left)
        if entry is not None:
            expires, value, kept, how = entry
            if expires != FOREVER and expires <= store.clock():
                store.misses += 1
                return default  # the stored record has the same expiry
            store.hits += 1
            if kept is not None:
                return _loads_body(kept, how)
            if how is None:
                return value
            if how is DEEP:
                return copy_value(value)
            copy = value.copy()
            for member in how:
                copy[member] = copy[member].copy()
            return copy
        if record is None:
            store.misses += 1
            return default
        if record.startswith(_PLAIN):  # serialization.loads_body, inlined
            try:
                value = _unpackb(record[_PLAIN_BODY:], ext_hook=_ext_hook, strict_map_key=False)
            except Exception:
                value = store.decode(key, full, record, snapshot)  # raises CorruptRecordError
            if snapshot:
                store.remember(key, snapshot, (FOREVER, value, record, _PLAIN_BODY))
        else:
            value = store.decode(key, full, record, snapshot)
            if value is MISSING:
                store.misses += 1
                return default
        store.hits += 1
        return value

    def __contains__(self, key: Key) -> bool:
        return self.get(key, MISSING) is not MISSING

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """The present, unexpired entries among `keys`, read in one transaction."""
        store = self._store
        found: dict[Key, Any] = {}
        encoded = [(key, *encode_key(key)) for key in keys]
        with store.reading() as txn:
            records = [(key, full, txn.get(lkey)) for key, lkey, full in encoded]
        for key, full, record in records:
            value = store.decode(key, full, record, 0)
            if value is MISSING:
                store.misses += 1
            else:
                store.hits += 1
                found[key] = value
        return found
