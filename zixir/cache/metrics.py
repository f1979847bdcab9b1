"""Prometheus metrics of caches, read from their stores' plain counters when scraped.

`get` only increments ints; this collector turns them into metric families on demand,
so the hot path never calls into prometheus_client. The series of closed caches are
bounded: see `RETIRED_PATHS`.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from zixir import _counters, _validate

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from zixir.cache.lookup import Store

__all__ = ["OTHER", "RETIRED_PATHS", "CacheCollector", "retire", "set_retired_paths", "track"]

RETIRED_PATHS = 100
"""Closed paths (no open cache left in this process) that keep series of their own, by
default; the counts of the least recently closed others are folded into `OTHER`. Change
it with `set_retired_paths`."""
OTHER = "other"
"""The `path` label of the folded counts of closed paths past the bound (real paths are
absolute, so it never names one)."""


class CacheCollector:
    """Exports hits, misses and memory-tier size of the tracked caches, summed by path.

    The counts of a closed cache stay in its path's sums, so the counters never go down;
    past `retired_paths` closed paths, the least recently closed path's counts move into
    the ``path="other"`` series, so the series exported stay bounded however many paths
    a process opens and closes.

    Args:
        retired_paths: Closed paths that keep a series of their own (>= 0).
    """

    def __init__(self, retired_paths: int = RETIRED_PATHS) -> None:
        self.retired_paths = _validate.whole("retired_paths", retired_paths, at_least=0)
        self._stores: weakref.WeakSet[Store] = weakref.WeakSet()
        # path -> hits, misses of its closed caches, least recently closed first
        self._retired: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._folded = (0, 0)  # the OTHER series: hits, misses of paths past the bound
        self._lock = threading.Lock()

    def track(self, store: Store) -> None:
        """Exports a cache's figures until it is closed (or garbage-collected unclosed,
        which takes its counts with it)."""
        with self._lock:
            self._stores.add(store)

    def retire(self, store: Store) -> None:
        """Keeps a closing cache's hits and misses in its path's sums."""
        with self._lock:
            if store not in self._stores:
                return
            self._stores.discard(store)
            hits, misses = self._retired.pop(store.path, (0, 0))
            self._retired[store.path] = (hits + store.hits, misses + store.misses)
            self._fold()

    def set_retired_paths(self, retired_paths: int) -> None:
        """Changes the bound (folding paths past a lower one at once)."""
        with self._lock:
            self.retired_paths = _validate.whole("retired_paths", retired_paths, at_least=0)
            self._fold()

    def _fold(self) -> None:
        """Folds the least recently closed paths past the bound into OTHER (lock held);
        a path with a cache still open keeps its series, so no counter goes down."""
        excess = len(self._retired) - self.retired_paths
        if excess <= 0:
            return
        open_paths = {store.path for store in self._stores}
        for path in [p for p in self._retired if p not in open_paths][:excess]:
            hits, misses = self._retired.pop(path)
            self._folded = (self._folded[0] + hits, self._folded[1] + misses)

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus_client on every scrape."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        hits = CounterMetricFamily("zixir_cache_hits", "Cache gets that found a value", labels=["path"])
        misses = CounterMetricFamily("zixir_cache_misses", "Cache gets that found nothing", labels=["path"])
        memory = GaugeMetricFamily("zixir_cache_memory_entries", "Entries in the memory tier", labels=["path"])
        with self._lock:
            stores = list(self._stores)
            totals = {path: [*kept, 0] for path, kept in self._retired.items()}
            if self._folded != (0, 0):
                totals[OTHER] = [*self._folded, 0]
        for store in stores:  # several caches may share a path: one series each
            figures = totals.setdefault(store.path, [0, 0, 0])
            figures[0] += store.hits
            figures[1] += store.misses
            figures[2] += len(store.memory)
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
set_retired_paths = _collector.set_retired_paths
