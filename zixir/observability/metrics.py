"""Prometheus metrics of every Zixir component, read from their plain counters when scraped.

Importing this module registers one collector in prometheus_client's default registry;
until then components count in plain numbers and nothing touches prometheus_client. The
default registry also holds prometheus_client's process collector (``process_*``, on
Linux) and platform and GC collectors; `exposition` writes them all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from zixir import _counters
from zixir._counters import Counter, Gauge, counter, gauge, max_series, set_max_series

__all__ = [
    "Counter",
    "Gauge",
    "ZixirCollector",
    "counter",
    "exposition",
    "gauge",
    "max_series",
    "set_max_series",
]


class ZixirCollector:
    """Turns Zixir's counters and gauges, and the components' own collectors, into metric families."""

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus_client on every scrape."""
        for source in _counters.counters():
            family = CounterMetricFamily(source.name, source.documentation, labels=source.label_names)
            for values, total in source.samples():
                family.add_metric(values, total)
            yield family
        for histogram in _counters.histograms():
            buckets = [*(repr(bound) for bound in histogram.buckets), "+Inf"]
            hist_family = HistogramMetricFamily(histogram.name, histogram.documentation, labels=histogram.label_names)
            for values, counts, total in histogram.samples():
                hist_family.add_metric(values, list(zip(buckets, counts)), total)
            yield hist_family
        levels: list[_counters.Gauge | _counters.ScrapeGauge] = [*_counters.gauges(), *_counters.scrape_gauges()]
        for level in levels:
            gauge_family = GaugeMetricFamily(level.name, level.documentation, labels=level.label_names)
            for values, value in level.samples():
                gauge_family.add_metric(values, value)
            yield gauge_family
        yield GaugeMetricFamily("zixir_threads", "Live threads in the process", value=threading.active_count())
        for collector in _counters.collectors():
            yield from collector.collect()


def exposition(openmetrics: bool = False) -> str:
    """Every metric in prometheus_client's default registry, as a scrape would get it.

    Args:
        openmetrics: The OpenMetrics text format (``application/openmetrics-text``, ending
            in ``# EOF``) when true; the Prometheus text format 0.0.4 otherwise.
    """
    if not isinstance(openmetrics, bool):
        from zixir.errors import ArgumentTypeError

        raise ArgumentTypeError(f"openmetrics must be True or False, got {openmetrics!r}", "openmetrics")
    # prometheus_client leaves the OpenMetrics writer without type hints.
    data: bytes = generate_openmetrics(REGISTRY) if openmetrics else generate_latest(REGISTRY)  # type: ignore[no-untyped-call]
    return data.decode("utf-8")


def _register_once() -> None:
    # A module reload must not register a second collector (its names would clash).
    if not _counters.exported.is_set():
        REGISTRY.register(ZixirCollector())
        _counters.exported.set()


_register_once()
