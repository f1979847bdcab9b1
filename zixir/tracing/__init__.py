"""Distributed tracing: spans that follow a request through actors, timers and sandboxes.

The current span lives in a context variable and travels with every actor message and
sandbox call; finished spans go to a bounded ring and to the exporters added.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from zixir import _compiled
from zixir._lazy import attributes

# Compiled when built (their .pxd files); under ZIXIR_PUREPYTHON their source, loaded here
# before anything imports them (the actors' envelope reads _context): a compiled module
# next to the source of the ones it builds on would not load.
_compiled.prefer_source("zixir.tracing._context")
_compiled.prefer_source("zixir.tracing.spans")
_compiled.prefer_source("zixir.tracing._actors")

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
    "SPANS_IMPLEMENTATION",
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

SPANS_IMPLEMENTATION: Literal["cython", "python"]
"""``"cython"`` when spans open and end in compiled code, ``"python"`` when they run from
source (no build, or ``ZIXIR_PUREPYTHON=1``); read when first asked for."""

_submodule_attribute, _submodule_names = attributes(
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


def __getattr__(name: str) -> Any:
    # SPANS_IMPLEMENTATION loads spans, so it is worked out when asked for, not at import.
    if name == "SPANS_IMPLEMENTATION":
        from zixir.tracing import spans

        implementation = globals()[name] = _compiled.implementation(spans)
        return implementation
    return _submodule_attribute(name)


def __dir__() -> list[str]:
    return sorted({*_submodule_names(), "SPANS_IMPLEMENTATION"})
