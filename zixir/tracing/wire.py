"""Spans across the sandbox boundary: the trace context out to a worker, its spans back.

The host sends the caller's context with each call; the worker runs the call under it,
keeps the spans that end during the call, and sends them back beside the result as
`zixir.serialization` data (never pickle). The host checks every field before a span is
rebuilt and exported: a worker is not trusted.
"""

from __future__ import annotations

import re
from typing import Any, Final

from zixir.tracing import export
from zixir.tracing._context import CURRENT, SpanContext
from zixir.tracing.spans import Span, SpanEvent

__all__ = ["MAX_SPANS", "MAX_SPAN_BYTES", "begin", "context_out", "end", "receive"]

#: Spans a worker sends back for one call; further ones are dropped and counted.
MAX_SPANS: Final = 1000
#: Bytes of encoded spans a worker sends back for one call, at most.
MAX_SPAN_BYTES: Final = 1 << 20

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_PRIMITIVES = (str, bool, int, float)


def context_out() -> tuple[str, str, bool] | None:
    """The caller's current context as plain data for a call frame; None outside any span."""
    current = CURRENT.get()
    return None if current is None else (current.trace_id, current.span_id, current.sampled)


def begin(context: tuple[str, str, bool] | None) -> Any:
    """In the worker: makes `context` current and starts keeping finished spans.

    Returns:
        What `end` needs.
    """
    export.capture(MAX_SPANS)
    return None if context is None else CURRENT.set(SpanContext(*context))


def end(token: Any, *, from_ring: bool = False) -> bytes:
    """In the worker: stops keeping spans, restores the context; the spans, encoded.

    Args:
        token: What `begin` returned.
        from_ring: Take the spans from the ring instead (and empty it): for a call that
            loaded tracing itself, so nothing was kept with `begin`.
    """
    from zixir import serialization

    if token is not None:
        CURRENT.reset(token)
    if from_ring:
        spans = export.finished_spans()
        export.clear()
    else:
        spans = export.capture(None) or []
    records = [_record(span) for span in spans]
    while records:
        data = serialization.dumps(records)
        if len(data) <= MAX_SPAN_BYTES:
            return data
        records = records[: len(records) // 2]
    return b""


def _record(span: Span) -> tuple[Any, ...]:
    events = [(event.name, event.timestamp, event.attributes) for event in span.events]
    return (
        span.name,
        span.trace_id,
        span.span_id,
        span.parent_id,
        span.start,
        span.end,
        span.duration,
        span.status,
        span.error_type,
        span.error_message,
        span.attributes,
        events,
    )


def receive(data: bytes | memoryview) -> int:
    """In the host: exports the spans a worker sent back (all of them sampled).

    Returns:
        How many spans were exported; a malformed record is skipped.
    """
    from zixir import serialization

    try:
        records = serialization.loads(bytes(data))
    except Exception:
        return 0
    if not isinstance(records, list):
        return 0
    count = 0
    for record in records[:MAX_SPANS]:
        span = _rebuild(record)
        if span is not None:
            export.finished(span)
            count += 1
    return count


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _clean_attributes(value: object) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    for key, item in value.items():
        if not isinstance(key, str):
            return None
        if not isinstance(item, _PRIMITIVES) and not (
            isinstance(item, (list, tuple)) and all(isinstance(x, _PRIMITIVES) for x in item)
        ):
            return None
    return {key: tuple(item) if isinstance(item, list) else item for key, item in value.items()}


def _rebuild(record: object) -> Span | None:
    if not isinstance(record, (list, tuple)) or len(record) != 12:
        return None
    name, trace_id, span_id, parent_id, start, ended, duration, status, error_type, error_message, attrs, events = (
        record
    )
    if not (
        isinstance(name, str)
        and isinstance(trace_id, str)
        and _HEX32.fullmatch(trace_id)
        and isinstance(span_id, str)
        and _HEX16.fullmatch(span_id)
        and (parent_id is None or (isinstance(parent_id, str) and _HEX16.fullmatch(parent_id)))
        and _is_number(start)
        and _is_number(ended)
        and _is_number(duration)
        and status in ("ok", "error")
        and (error_type is None or isinstance(error_type, str))
        and (error_message is None or isinstance(error_message, str))
        and isinstance(events, (list, tuple))
    ):
        return None
    attributes = _clean_attributes(attrs)
    if attributes is None:
        return None
    kept: list[SpanEvent] = []
    for event in events[: export.MAX_EVENTS]:
        if not isinstance(event, (list, tuple)) or len(event) != 3:
            return None
        event_name, timestamp, event_attrs = event
        event_attributes = _clean_attributes(event_attrs)
        if not isinstance(event_name, str) or not _is_number(timestamp) or event_attributes is None:
            return None
        kept.append(SpanEvent(event_name, float(timestamp), event_attributes))
    span = Span(name, trace_id, span_id, parent_id, True, attributes)
    span.start, span.end, span.duration = float(start), float(ended), float(duration)
    span.status, span.error_type, span.error_message = status, error_type, error_message
    span.events = kept
    return span
