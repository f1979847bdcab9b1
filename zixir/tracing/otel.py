"""A span exporter into OpenTelemetry: Zixir spans become OTel spans with the same ids.

Needs the ``otel`` extra (``pip install zixir[otel]``: opentelemetry-sdk). Hand it any
OTel `SpanExporter` (an OTLP exporter to a collector, or the SDK's in-memory one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zixir.errors import ArgumentTypeError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

    from zixir.tracing.spans import Span

__all__ = ["OTelExporter"]


def _nanos(seconds: float) -> int:
    return round(seconds * 1e9)


class OTelExporter:
    """Sends Zixir spans to an OpenTelemetry `SpanExporter`, converted to `ReadableSpan`.

    Trace and span ids, parents, start and end times, status (with the error's type and
    message as the description), attributes and events carry over; the sampled flag is
    set on every span it sees (unsampled spans are never exported).

    Args:
        exporter: An ``opentelemetry.sdk.trace.export.SpanExporter``.
        service_name: The ``service.name`` of the OTel resource.

    Raises:
        ImportError: opentelemetry-sdk is not installed; install ``zixir[otel]``.
        ArgumentTypeError: `exporter` has no ``export`` method.
    """

    name = "otel"

    def __init__(self, exporter: SpanExporter, service_name: str = "zixir") -> None:
        try:
            from opentelemetry.sdk.resources import Resource
        except ImportError as exc:
            raise ImportError(
                "OTelExporter needs opentelemetry-sdk; install it with: pip install 'zixir[otel]'"
            ) from exc
        if not callable(getattr(exporter, "export", None)):
            raise ArgumentTypeError(f"exporter must be an OpenTelemetry SpanExporter, got {exporter!r}", "exporter")
        self.exporter = exporter
        self.resource = Resource.create({"service.name": service_name})

    def __repr__(self) -> str:
        return f"OTelExporter({self.exporter!r})"

    def convert(self, span: Span) -> ReadableSpan:
        """The OTel `ReadableSpan` for a finished Zixir span."""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.trace import Status, StatusCode

        flags = trace.TraceFlags(trace.TraceFlags.SAMPLED)
        trace_id = int(span.trace_id, 16)
        context = trace.SpanContext(trace_id, int(span.span_id, 16), is_remote=False, trace_flags=flags)
        parent = None
        if span.parent_id is not None:
            parent = trace.SpanContext(trace_id, int(span.parent_id, 16), is_remote=False, trace_flags=flags)
        if span.status == "error":
            status = Status(StatusCode.ERROR, f"{span.error_type}: {span.error_message}")
        else:
            status = Status(StatusCode.OK)
        attributes: dict[str, Any] = dict(span.attributes)
        if span.error_type is not None:
            attributes["exception.type"] = span.error_type
            attributes["exception.message"] = span.error_message or ""
        events = [Event(event.name, event.attributes, _nanos(event.timestamp)) for event in span.events]
        return ReadableSpan(
            name=span.name,
            context=context,
            parent=parent,
            resource=self.resource,
            attributes=attributes,
            events=events,
            status=status,
            start_time=_nanos(span.start),
            end_time=_nanos(span.end if span.end is not None else span.start),
        )

    def export(self, spans: Sequence[Span], /) -> None:
        """Converts `spans` and hands them to the OTel exporter in one batch."""
        self.exporter.export([self.convert(span) for span in spans])

    def shutdown(self) -> None:
        """Shuts the OTel exporter down (called by `zixir.tracing.remove_exporter`)."""
        self.exporter.shutdown()
