"""Tracing tests start from an empty ring, the default ratio and no exporters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zixir import tracing


@pytest.fixture(autouse=True)
def _fresh_tracing() -> Iterator[None]:
    tracing.clear()
    tracing.set_sample_ratio(1.0)
    yield
    for exporter in tracing.exporters():
        tracing.remove_exporter(exporter, timeout=5.0)
    tracing.set_sample_ratio(1.0)
    tracing.set_ring_size(10_000)
    tracing.clear()
