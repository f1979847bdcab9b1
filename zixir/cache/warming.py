"""Cache warming: load many keys concurrently, with progress, never stopping on one failure.

`Cache.warm` calls `warm`; the loader runs outside every LMDB transaction.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loguru import logger

from zixir.cache.keys import Key
from zixir.observability import events
from zixir.tracing._context import CURRENT, run_in

if TYPE_CHECKING:
    from zixir.cache.cache import Cache

__all__ = ["WarmSummary", "warm"]

_OMITTED: Any = object()  # no ttl given: Cache.put applies the cache's default_ttl


@dataclass(frozen=True, slots=True)
class WarmSummary:
    """What a warm-up did.

    Attributes:
        loaded: How many keys were loaded and stored.
        failed: Each failed key and the reason (the loader's or the cache's error).
        seconds: How long it took.
    """

    loaded: int
    failed: dict[Any, str]
    seconds: float


def warm(
    cache: Cache,
    keys: Iterable[Key],
    loader: Callable[[Key], Any],
    *,
    workers: int = 8,
    ttl: float | Any | None = _OMITTED,
    progress: bool | None = None,
) -> WarmSummary:
    """Calls ``loader(key)`` for every key on `workers` threads and stores the values.

    Args:
        cache: Where values go.
        keys: The keys to load.
        loader: Returns the value of one key; an exception marks that key failed.
        workers: Threads running the loader.
        ttl: Passed to `Cache.put`; omitted: the cache's `default_ttl`; None: forever.
        progress: Show a progress bar; by default only when stderr is a terminal.

    Returns:
        The summary: loaded count, failures with reasons, seconds.

    Raises:
        ValueError: `workers` below 1.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    put_ttl = () if ttl is _OMITTED else (ttl,)
    todo = list(keys)
    show = sys.stderr.isatty() if progress is None else progress
    started = time.monotonic()
    loaded = 0
    failed: dict[Any, str] = {}

    context = CURRENT.get()  # the pool's threads load in the caller's trace

    def load_and_store(key: Key) -> None:
        cache.put(key, run_in(context, loader, key), *put_ttl)

    from tqdm import tqdm  # on first use: importing the cache stays cheap

    with (
        ThreadPoolExecutor(workers, thread_name_prefix="zixir-warm") as pool,
        tqdm(total=len(todo), desc="warming cache", unit="key", disable=not show) as bar,
    ):
        futures = {pool.submit(load_and_store, key): key for key in todo}
        for future in as_completed(futures):
            error = future.exception()
            if error is None:
                loaded += 1
            else:
                failed[futures[future]] = f"{type(error).__name__}: {error}"
            bar.update()
    summary = WarmSummary(loaded, failed, time.monotonic() - started)
    logger.bind(
        event=events.CACHE_WARMED,
        path=str(cache.path),
        loaded=loaded,
        failed=len(failed),
        seconds=round(summary.seconds, 6),
    ).info("warmed {}: {} loaded, {} failed in {:.2f} s", cache.path, loaded, len(failed), summary.seconds)
    return summary
