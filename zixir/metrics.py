"""Zixir's Prometheus metrics, as ``zixir.metrics``: the same names as `zixir.observability.metrics`.

Importing either registers Zixir's one collector with prometheus_client's default registry.
"""

from __future__ import annotations

from zixir.observability.metrics import (
    Counter,
    Gauge,
    ZixirCollector,
    counter,
    exposition,
    gauge,
    max_series,
    set_max_series,
)

__all__ = ["Counter", "Gauge", "ZixirCollector", "counter", "exposition", "gauge", "max_series", "set_max_series"]
