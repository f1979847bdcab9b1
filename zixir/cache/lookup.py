"""The read side of `zixir.Cache`: `get`, `get_many`, ``in`` and the memory tier's reads.

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
from zixir.cache.env import SharedEnv
from zixir.cache.keys import MAX_DIRECT, Key, encode_key, memory_key
from zixir.cache.record import CURRENT_FORMAT, FOREVER, RECORD_HEADER
from zixir.errors import CacheError, CorruptRecordError, SerializationError

__all__ = ["IMMUTABLE", "Entry", "Lookup", "MISSING"]

#: What a lookup of an absent or expired key gives inside the cache.
MISSING: Any = object()
#: Types whose values the memory tier hands out shared: nothing can mutate them.
IMMUTABLE = frozenset({str, bytes, int, float, bool, type(None), complex})

# A memory-tier entry: expiry, then either the value itself (immutable: shared) or the
# stored record and the offset of the value in it (decoded afresh on every hit: a copy).
Entry = tuple[float, Any, bytes | None, int]

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


class Lookup:
    """Reads key-value entries through the resize gate and the memory tier.

    The base of `zixir.Cache`, which owns the attributes set here and writes through
    the same memory tier (under `_memory_lock`).

    Args:
        shared: The environment, shared with every Cache of the path in this process.
        db: The key-value database.
        memory_items: Entries kept in the memory tier; 0: no tier.
        clock: Wall clock in seconds, for expiry.
    """

    _shared: SharedEnv
    _env: Any  # lmdb.Environment, or a stand-in that refuses once the cache is closed
    _db: Any
    _entered: Any  # the resize gate's counters (env.py), looked up once
    _left: Any
    _clock: Callable[[], float]
    _memory: OrderedDict[Key, Entry]
    _memory_lock: threading.Lock
    _memory_items: int
    _seen_txn: int  # the LMDB transaction whose state the memory tier matches
    _hits: int  # plain ints on the hot path; metrics.py exports them on scrape
    _misses: int
    _closed: bool

    def __init__(self, shared: SharedEnv, db: Any, memory_items: int, clock: Callable[[], float]) -> None:
        self._shared = shared
        self._env = shared.env
        self._db = db
        self._entered = shared.entered
        self._left = shared.left
        self._clock = clock
        self._memory = OrderedDict()
        self._memory_lock = threading.Lock()
        self._memory_items = memory_items
        self._hits = 0
        self._misses = 0
        self._closed = False
        with shared.reading(db=db) as txn:  # the empty tier matches the state of now
            self._seen_txn = txn.id()

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
            key = memory_key(key)
        shared = self._shared
        snapshot = 0  # 0: no memory tier (LMDB's transaction ids start at 1)
        next(self._entered)  # the resize gate of env.py, inlined
        try:
            try:
                # db positionally: py-lmdb parses keywords far slower
                txn = self._env.begin(self._db) if not shared.resizing else self._begin_slowly()
            except lmdb.Error:  # the map was grown by another process, or the cache is closed
                txn = self._begin_slowly()
            try:
                if self._memory_items:
                    snapshot = txn.id()
                    with self._memory_lock:
                        entry = self._memory_entry(key, snapshot)
                    if entry is not None:
                        expires, value, record, offset = entry
                        if expires != FOREVER and expires <= self._clock():
                            self._misses += 1
                            return default  # the stored record has the same expiry
                        self._hits += 1
                        return value if record is None else _loads_body(record, offset)
                record = txn.get(lkey)
            finally:
                txn.abort()  # a read transaction: what `with` would do, without its cost
        finally:
            next(self._left)
        if record is None:
            self._misses += 1
            return default
        if record.startswith(_PLAIN):  # serialization.loads_body, inlined
            try:
                value = _unpackb(record[_PLAIN_BODY:], ext_hook=_ext_hook, strict_map_key=False)
            except Exception:  # noqa: BLE001 - msgpack's or a decoder's: the record is bad
                value = self._decode(key, full, record, snapshot)  # raises CorruptRecordError
            if snapshot:
                self._remember(key, snapshot, (FOREVER, value, record, _PLAIN_BODY))
        else:
            value = self._decode(key, full, record, snapshot)
            if value is MISSING:
                self._misses += 1
                return default
        self._hits += 1
        return value

    def __contains__(self, key: Key) -> bool:
        return self.get(key, MISSING) is not MISSING

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """The present, unexpired entries among `keys`, read in one transaction."""
        found: dict[Key, Any] = {}
        encoded = [(key, *encode_key(key)) for key in keys]
        with self._reader() as txn:
            records = [(key, full, txn.get(lkey)) for key, lkey, full in encoded]
        for key, full, record in records:
            value = self._decode(key, full, record, 0)
            if value is MISSING:
                self._misses += 1
            else:
                self._hits += 1
                found[key] = value
        return found

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

    def _memory_entry(self, key: Key, snapshot: int) -> Entry | None:
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

    def _decode(self, key: Key, full: bytes | None, record: bytes | None, snapshot: int) -> Any:
        """The live value in `record`, or MISSING; remembered if read at `snapshot` (> 0)."""
        if record is None:
            return MISSING
        try:
            expires, klen = _unpack_header(record)
            if expires <= self._clock():
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
                f"the record of key {key!r} in the cache at {self._shared.path!r} is corrupt ({exc}); "
                "delete the key to store it again",
                key,
            ) from exc
        if snapshot:
            self._remember(key, snapshot, (expires, value, record, offset))
        return value

    def _remember(self, key: Key, snapshot: int, entry: Entry) -> None:
        """Keeps a value read at `snapshot`, unless something was committed since."""
        expires, value, record, offset = entry
        if type(value) in IMMUTABLE:
            entry = (expires, value, None, 0)  # shared, never copied
        elif record is None:
            return
        with self._memory_lock:
            if snapshot == self._seen_txn:
                memory = self._memory
                memory[key] = entry
                if len(memory) > self._memory_items:
                    memory.popitem(last=False)
