"""Prometheus metrics of caches, read from their plain counters when scraped.

`get` only increments ints; this collector turns them into metric families on demand,
so the hot path never calls into prometheus_client.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING

from zixir import _counters

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from zixir.cache.cache import Cache

__all__ = ["CacheCollector", "retire", "track"]


class CacheCollector:
    """Exports hits, misses and memory-tier size of the tracked caches, summed by path.

    The counts of a closed cache stay in its path's sums, so the counters never go down.
    """

    def __init__(self) -> None:
        self._caches: weakref.WeakSet[Cache] = weakref.WeakSet()
        self._retired: dict[str, list[int]] = {}  # path -> hits, misses of closed caches
        self._lock = threading.Lock()

    def track(self, cache: Cache) -> None:
        """Exports `cache`'s figures until it is closed (or garbage-collected unclosed,
        which takes its counts with it)."""
        with self._lock:
            self._caches.add(cache)

    def retire(self, cache: Cache) -> None:
        """Keeps a closing cache's hits and misses in its path's sums."""
        with self._lock:
            if cache in self._caches:
                self._caches.discard(cache)
                kept = self._retired.setdefault(cache.path, [0, 0])
                kept[0] += cache._hits
                kept[1] += cache._misses

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus_client on every scrape."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        hits = CounterMetricFamily("zixir_cache_hits", "Cache gets that found a value", labels=["path"])
        misses = CounterMetricFamily("zixir_cache_misses", "Cache gets that found nothing", labels=["path"])
        memory = GaugeMetricFamily("zixir_cache_memory_entries", "Entries in the memory tier", labels=["path"])
        with self._lock:
            caches = list(self._caches)
            totals = {path: [*kept, 0] for path, kept in self._retired.items()}
        for cache in caches:  # several Cache objects may share a path: one series each
            figures = totals.setdefault(cache.path, [0, 0, 0])
            figures[0] += cache._hits
            figures[1] += cache._misses
            figures[2] += len(cache._memory)
        for path, (hit_count, miss_count, entries) in totals.items():
            hits.add_metric([path], hit_count)
            misses.add_metric([path], miss_count)
            memory.add_metric([path], entries)
        yield hits
        yield misses
        yield memory


_collector = CacheCollector()
_counters.register_collector(_collector)
track = _collector.track
retire = _collector.retire
