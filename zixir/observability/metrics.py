"""Prometheus metrics of every Zixir component, read from their plain counters when scraped.

Importing this module registers one collector in prometheus_client's default registry;
until then components count in plain numbers and nothing touches prometheus_client.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from zixir import _counters
from zixir._counters import Counter, counter, max_series, set_max_series

__all__ = ["Counter", "ZixirCollector", "counter", "exposition", "max_series", "set_max_series"]


class ZixirCollector:
    """Turns Zixir's counters, and the components' own collectors, into metric families."""

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
        for gauge in _counters.gauges():
            gauge_family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=gauge.label_names)
            for values, value in gauge.samples():
                gauge_family.add_metric(values, value)
            yield gauge_family
        for collector in _counters.collectors():
            yield from collector.collect()


def exposition() -> str:
    """Every metric in prometheus_client's default registry, in the Prometheus text format."""
    return generate_latest(REGISTRY).decode("utf-8")


def _register_once() -> None:
    # A module reload must not register a second collector (its names would clash).
    if not _counters.exported.is_set():
        REGISTRY.register(ZixirCollector())
        _counters.exported.set()


_register_once()
