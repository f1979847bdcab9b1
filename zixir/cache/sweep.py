"""Removing expired entries, so that a cache's disk use follows its live data.

Expired entries are never returned anyway; a sweep reclaims their space. `Cache.sweep`
runs one, and CacheActor runs it on an interval.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from zixir.cache.record import expiry_of

if TYPE_CHECKING:
    from zixir.cache.cache import Cache
    from zixir.cache.lookup import Store

__all__ = ["sweep", "sweep_expired"]


def sweep(cache: Cache) -> int:
    """Deletes every expired entry of `cache` in one transaction; returns how many.

    The same as ``cache.sweep()``.
    """
    return cache.sweep()


def sweep_expired(store: Store) -> int:
    """Deletes every expired entry of a cache's `store` in one transaction; returns how many.

    Expired keys are collected in one read snapshot, then deleted in one write transaction
    if they are still expired there (an entry rewritten meanwhile is kept). A record too
    damaged to hold an expiry is kept: `get` reports it (CorruptRecordError), and a sweep
    on a timer must not fail on it every time.
    """
    now = store.clock()
    with store.reading(buffers=True) as txn:  # only headers are read: copy no values
        doomed = [bytes(k) for k, record in txn.cursor() if _expired(record, now)]
    deleted = [0]

    def delete_still_expired(txn: Any) -> None:
        deleted[0] = 0
        for key in doomed:  # rewritten since the read? then it is fresh: keep it
            record = txn.get(key)
            if record is not None and _expired(record, now):
                deleted[0] += txn.delete(key)

    if doomed:
        store.write(delete_still_expired)
    return deleted[0]


def _expired(record: bytes, now: float) -> bool:
    """Whether `record` expired by `now`; False if it is too short to hold an expiry."""
    try:
        return expiry_of(record) <= now
    except struct.error:
        return False
