"""Distributed tracing: spans that follow a request through actors, timers and sandboxes.

The current span lives in a context variable and travels with every actor message and
sandbox call; finished spans go to a bounded ring and to the exporters added.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zixir._lazy import attributes

if TYPE_CHECKING:
    from zixir.tracing._context import SpanContext
    from zixir.tracing.export import (
        Exporter,
        add_exporter,
        clear,
        exporters,
        finished_spans,
        flush,
        queue_size,
        remove_exporter,
        ring_size,
        sample_ratio,
        set_queue_size,
        set_ring_size,
        set_sample_ratio,
    )
    from zixir.tracing.logs import JsonLogExporter
    from zixir.tracing.otel import OTelExporter
    from zixir.tracing.propagation import from_traceparent, traceparent
    from zixir.tracing.spans import Span, SpanEvent, current_span, span

__all__ = [
    "Exporter",
    "JsonLogExporter",
    "OTelExporter",
    "Span",
    "SpanContext",
    "SpanEvent",
    "add_exporter",
    "clear",
    "current_span",
    "exporters",
    "finished_spans",
    "flush",
    "from_traceparent",
    "queue_size",
    "remove_exporter",
    "ring_size",
    "sample_ratio",
    "set_queue_size",
    "set_ring_size",
    "set_sample_ratio",
    "span",
    "traceparent",
]

__getattr__, __dir__ = attributes(
    globals(),
    {
        "SpanContext": "_context",
        **dict.fromkeys(
            (
                "Exporter",
                "add_exporter",
                "clear",
                "exporters",
                "finished_spans",
                "flush",
                "queue_size",
                "remove_exporter",
                "ring_size",
                "sample_ratio",
                "set_queue_size",
                "set_ring_size",
                "set_sample_ratio",
            ),
            "export",
        ),
        "JsonLogExporter": "logs",
        "OTelExporter": "otel",
        "from_traceparent": "propagation",
        "traceparent": "propagation",
        **dict.fromkeys(("Span", "SpanEvent", "current_span", "span"), "spans"),
    },
)
