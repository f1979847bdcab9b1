"""`zixir.CacheActor`: the supervised owner of a cache's environment.

It opens the cache on start and closes it on every exit, sweeps expired entries on an
interval, and answers every `Cache` operation through its proxy. Hot reads need no
mailbox round trip: open a `Cache` on the same path in the reading thread instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from zixir import _validate
from zixir.actors.actor import Actor
from zixir.actors.messages import ExitReason
from zixir.actors.timers import Timer, send_interval
from zixir.cache.cache import Cache, CacheStats, check_options
from zixir.cache.keys import Key
from zixir.cache.lookup import MISSING
from zixir.cache.plan import QueryPlan
from zixir.cache.warming import WarmSummary
from zixir.errors import InvalidArgumentError

__all__ = ["CacheActor"]

T = TypeVar("T")


class CacheActor(Actor):
    """Owns a `Cache` in a supervision tree; each method runs the `Cache` method of the
    same name in the actor's thread.

    Args:
        path: The cache's directory.
        sweep_interval: Seconds between sweeps of expired entries (None: never).
        **options: Passed to `Cache` (`default_ttl`, `memory_items`, `durable`, ...).

    Raises:
        InvalidArgumentError: a `sweep_interval` that is not a finite number > 0, or a
            bad option (also a ValueError).
        ArgumentTypeError: an argument of the wrong type (also a TypeError).
    """

    def __init__(self, path: str | os.PathLike[str], sweep_interval: float | None = 60.0, **options: Any) -> None:
        super().__init__()
        if type(sweep_interval) in (int, float) and sweep_interval <= 0:  # type: ignore[operator]
            raise InvalidArgumentError(
                f"sweep_interval must be None or > 0 seconds, got {sweep_interval!r}", "sweep_interval"
            )
        self._sweep_interval = _validate.optional_number("sweep_interval", sweep_interval, above=0)
        check_options(**options)  # refused now, not when the actor starts
        self._path = path
        self._options = options
        self._cache: Cache | None = None
        self._sweeper: Timer | None = None

    def on_start(self) -> None:
        self._cache = Cache(self._path, **self._options)
        if self._sweep_interval is not None:
            self._sweeper = send_interval(self.actor_ref, _SweepNow(), self._sweep_interval)

    def on_exit(self, reason: ExitReason) -> None:
        """Stops sweeping and releases the environment, on every exit."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._cache is not None:
            self._cache.close()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _SweepNow):
            return self.sweep()
        return super().on_receive(message)

    # ---- the cache's operations ----------------------------------------------------------

    def sweep(self) -> int:
        """Deletes expired entries now; returns how many (`Cache.sweep`)."""
        return self._open_cache().sweep()

    def get(self, key: Key, default: Any = None) -> Any:
        """`Cache.get`."""
        return self._open_cache().get(key, default)

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """`Cache.get_many`."""
        return self._open_cache().get_many(keys)

    def put(self, key: Key, value: Any, ttl: float | None = MISSING) -> None:
        """`Cache.put`."""
        self._open_cache().put(key, value, ttl)

    def put_many(self, items: Mapping[Key, Any], ttl: float | None = MISSING) -> None:
        """`Cache.put_many`."""
        self._open_cache().put_many(items, ttl)

    def delete(self, key: Key) -> bool:
        """`Cache.delete`."""
        return self._open_cache().delete(key)

    def get_or_compute(self, key: Key, fn: Callable[[], T], ttl: float | None = MISSING) -> T:
        """`Cache.get_or_compute` (`fn` runs in the actor's thread, holding up the rest)."""
        return self._open_cache().get_or_compute(key, fn, ttl)

    def invalidate(self, prefix: Key | None = None, predicate: Callable[[Key], bool] | None = None) -> int:
        """`Cache.invalidate`."""
        return self._open_cache().invalidate(prefix, predicate)

    def clear(self) -> None:
        """`Cache.clear`."""
        self._open_cache().clear()

    def keys(self, prefix: Key | None = None) -> list[Key]:
        """`Cache.keys`."""
        return self._open_cache().keys(prefix)

    def stats(self) -> CacheStats:
        """`Cache.stats`."""
        return self._open_cache().stats()

    def warm(
        self,
        keys: Iterable[Key],
        loader: Callable[[Key], Any],
        *,
        workers: int = 8,
        ttl: float | None = MISSING,
        progress: bool | None = None,
    ) -> WarmSummary:
        """`Cache.warm` (holds up the actor's other messages until done)."""
        return self._open_cache().warm(keys, loader, workers=workers, ttl=ttl, progress=progress)

    def insert(self, table: str, record: Mapping[str, Any]) -> int:
        """`Cache.insert`."""
        return self._open_cache().insert(table, record)

    def get_record(self, table: str, id: int) -> dict[str, Any] | None:
        """`Cache.get_record`."""
        return self._open_cache().get_record(table, id)

    def update(self, table: str, id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
        """`Cache.update`."""
        return self._open_cache().update(table, id, changes)

    def delete_record(self, table: str, id: int) -> bool:
        """`Cache.delete_record`."""
        return self._open_cache().delete_record(table, id)

    def query(
        self,
        table: str,
        where: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """`Cache.query`."""
        return self._open_cache().query(table, where, order_by, descending, limit, offset)

    def explain(
        self,
        table: str,
        where: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> QueryPlan:
        """`Cache.explain`."""
        return self._open_cache().explain(table, where, order_by, descending, limit, offset)

    def create_index(self, table: str, field: str) -> None:
        """`Cache.create_index`."""
        self._open_cache().create_index(table, field)

    def _open_cache(self) -> Cache:
        if self._cache is None:
            raise RuntimeError(f"{self} has no open cache (its on_start did not run)")
        return self._cache


class _SweepNow:
    """Told to a CacheActor on its sweep interval (by the process's timer service)."""
