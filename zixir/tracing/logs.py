"""A span exporter that writes one loguru record per finished span, for JSON log pipelines.

Each record has ``event="span"`` and the span's fields in its ``extra``, so a JSON sink
(``configure_logging(json=True)``) puts them at the top level of the line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from zixir.tracing.spans import Span

__all__ = ["JsonLogExporter", "span_fields"]


def span_fields(span: Span) -> dict[str, Any]:
    """A finished span as plain, JSON-ready fields."""
    return {
        "event": "span",
        "name": span.name,
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "start": span.start,
        "end": span.end,
        "duration": span.duration,
        "status": span.status,
        "error_type": span.error_type,
        "error_message": span.error_message,
        "attributes": dict(span.attributes),
        "events": [
            {"name": event.name, "timestamp": event.timestamp, "attributes": event.attributes} for event in span.events
        ],
    }


class JsonLogExporter:
    """Logs each finished span through loguru, at `level`, with its fields bound.

    Add it with ``tracing.add_exporter(JsonLogExporter())``; the records come from the
    ``zixir.tracing.logs`` module, so they appear once ``logger.enable("zixir")`` ran
    (``configure_logging`` does).

    Args:
        level: The loguru level of the records.
    """

    name = "json_log"

    def __init__(self, level: str = "INFO") -> None:
        self.level = level

    def __repr__(self) -> str:
        return f"JsonLogExporter(level={self.level!r})"

    def export(self, spans: Sequence[Span], /) -> None:
        """Logs one record a span: message ``"span <name>"``, the fields in ``extra``."""
        for span in spans:
            logger.bind(**span_fields(span)).log(self.level, "span {}", span.name)
