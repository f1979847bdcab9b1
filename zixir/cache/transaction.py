"""Atomic read-modify-write of several cache keys: one LMDB write transaction.

`Cache.transact` hands a `Transaction` to a function; what it reads is the committed state
of every process, and what it writes commits together or not at all.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, TypeVar

from zixir import serialization
from zixir.cache.keys import Key, encode_key, memory_key
from zixir.cache.lookup import Store
from zixir.cache.record import FOREVER, RECORD_HEADER
from zixir.errors import CorruptRecordError, SerializationError

__all__ = ["Transaction", "transact"]

T = TypeVar("T")
_HEADER_SIZE = RECORD_HEADER.size


class Transaction:
    """Reads and writes of one `Cache.transact` call, inside its LMDB write transaction.

    Only this thread, and only until the function returns: it must not be kept.
    """

    __slots__ = ("_now", "_path", "_touched", "_txn")

    def __init__(self, txn: Any, now: float, path: str) -> None:
        self._txn = txn
        self._now = now
        self._path = path
        self._touched: list[Key] = []

    def get(self, key: Key, default: Any = None) -> Any:
        """The live value of `key` as committed (or written earlier in this transaction).

        Raises:
            CorruptRecordError: the stored record cannot be decoded.
        """
        lkey, full = encode_key(key)
        record = self._txn.get(lkey)
        if record is None:
            return default
        try:
            expires, klen = RECORD_HEADER.unpack_from(record)
            offset = _HEADER_SIZE + klen
            if expires <= self._now or (klen and record[_HEADER_SIZE:offset] != full):
                return default
            return serialization.loads(record[offset:])
        except (struct.error, SerializationError) as exc:
            raise CorruptRecordError(
                f"the record of key {key!r} in the cache at {self._path!r} is corrupt ({exc}); "
                "delete the key to store it again",
                key,
            ) from exc

    def put(self, key: Key, value: Any) -> None:
        """Stores `value` under `key` with no expiry when the transaction commits.

        Raises:
            SerializationError: `value` cannot be stored (nothing of the transaction is).
        """
        lkey, full = encode_key(key)
        head = RECORD_HEADER.pack(FOREVER, len(full)) + full if full else RECORD_HEADER.pack(FOREVER, 0)
        self._txn.put(lkey, head + serialization.dumps(value))
        self._touched.append(key)

    def delete(self, key: Key) -> bool:
        """Removes `key` when the transaction commits; whether a record was there."""
        lkey, _ = encode_key(key)
        self._touched.append(key)
        return bool(self._txn.delete(lkey))

    def __repr__(self) -> str:
        return f"<Transaction on {self._path!r}, {len(self._touched)} write(s)>"


def transact(store: Store, fn: Callable[[Transaction], T]) -> T:
    """Runs ``fn(transaction)`` in one write transaction of `store` and commits it.

    `fn` may run more than once (when the LMDB map grows it runs again on a fresh
    transaction), so it must only read and write through the transaction.

    Raises:
        CacheError: the cache is closed, or the write failed (nothing of it is stored).
    """
    result: list[Any] = []
    touched: list[Key] = []

    def fill(txn: Any) -> None:
        view = Transaction(txn, store.clock(), store.path)
        result[:] = [fn(view)]
        touched[:] = view._touched

    # The memory tier forgets every key written: the next read decodes the committed record.
    store.write(fill, _Forget(touched))
    return result[0]  # type: ignore[no-any-return]


class _Forget:
    """The memory-tier update of a transaction: every written key dropped, read once the
    transaction has run (so after `fill` has filled the list)."""

    __slots__ = ("_keys",)

    def __init__(self, keys: list[Key]) -> None:
        self._keys = keys

    def __iter__(self) -> Any:
        return iter([(memory_key(key), None) for key in self._keys])
