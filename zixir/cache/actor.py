"""`zixir.CacheActor`: the supervised owner of a cache's environment.

It opens the cache on start and closes it on every exit, sweeps expired entries on an
interval, and answers every `Cache` operation through its proxy. Hot reads need no
mailbox round trip: open a `Cache` on the same path in the reading thread instead.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from zixir.actors.actor import Actor
from zixir.actors.messages import ExitReason
from zixir.cache.cache import Cache
from zixir.cache.sweep import sweep

__all__ = ["CacheActor"]

_OPERATIONS = (
    "put", "get", "delete", "get_many", "put_many", "get_or_compute", "invalidate", "clear",
    "keys", "stats", "warm", "insert", "get_record", "update", "delete_record", "query",
    "create_index",
)  # fmt: skip


class CacheActor(Actor):
    """Owns a `Cache` in a supervision tree.

    Args:
        path: The cache's directory.
        sweep_interval: Seconds between sweeps of expired entries (None: never).
        **options: Passed to `Cache` (`default_ttl`, `memory_items`, `durable`, ...).

    Raises:
        ValueError: a non-positive `sweep_interval`.
    """

    def __init__(self, path: str | os.PathLike[str], sweep_interval: float | None = 60.0, **options: Any) -> None:
        super().__init__()
        if sweep_interval is not None and sweep_interval <= 0:
            raise ValueError(f"sweep_interval must be None or > 0 seconds, got {sweep_interval!r}")
        self._path = path
        self._options = options
        self._sweep_interval = sweep_interval
        self._cache: Cache | None = None
        self._sweeping = threading.Event()
        self._sweeper: threading.Thread | None = None

    def on_start(self) -> None:
        self._cache = Cache(self._path, **self._options)
        if self._sweep_interval is not None:
            self._sweeper = threading.Thread(target=self._sweep_loop, name=f"sweep-{self._cache.path}", daemon=True)
            self._sweeper.start()

    def on_exit(self, reason: ExitReason) -> None:
        """Stops sweeping and releases the environment, on every exit."""
        self._sweeping.set()
        if self._sweeper is not None and self._sweeper is not threading.current_thread():
            self._sweeper.join(10)
        if self._cache is not None:
            self._cache.close()

    def sweep(self) -> int:
        """Deletes expired entries now; returns how many."""
        return sweep(self._open_cache())

    def _sweep_loop(self) -> None:
        assert self._sweep_interval is not None
        while not self._sweeping.wait(self._sweep_interval):
            try:
                self.actor_ref.tell(_SweepNow())
            except Exception:  # noqa: BLE001 - the actor is stopping
                return

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _SweepNow):
            return self.sweep()
        return super().on_receive(message)

    def _open_cache(self) -> Cache:
        if self._cache is None:
            raise RuntimeError(f"{self} has no open cache (its on_start did not run)")
        return self._cache


class _SweepNow:
    """Told to a CacheActor by its sweeper thread."""


def _delegate(name: str) -> Any:
    def operation(self: CacheActor, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._open_cache(), name)(*args, **kwargs)

    operation.__name__ = name
    operation.__qualname__ = f"CacheActor.{name}"
    operation.__doc__ = f"`Cache.{name}`, run in the actor's thread."
    return operation


for _name in _OPERATIONS:
    setattr(CacheActor, _name, _delegate(_name))
