"""Turns a loguru record into one flat log line: JSON, or text for people.

The common keys come first; the event's own fields (loguru's ``extra``) follow at the top
level. Runs in the thread that logs, so the current actor and span are the caller's.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, cast

from zixir.actors.actor import current_actor_name
from zixir.tracing.spans import current_span

if TYPE_CHECKING:
    from loguru import Record

__all__ = ["CLASH_PREFIX", "CORE_KEYS", "Formatter", "Redact", "fields", "rfc3339"]

#: The keys every line has, in this order; ``exception`` is null without one.
CORE_KEYS: Final = ("time", "level", "message", "logger", "actor", "trace_id", "span_id", "exception")
#: Prefixed to an event field whose name is one of `CORE_KEYS`, so neither is lost.
CLASH_PREFIX: Final = "extra_"
#: Called with every record's fields (a fresh dict); returns the fields to write.
Redact = Callable[[dict[str, Any]], Mapping[str, Any]]

_CORE = frozenset(CORE_KEYS)
# The record key the rendered line travels in, from the format function to loguru's
# format_map: a top-level key, which other handlers never read (``extra`` they may print).
_LINE: Final = "zixir_line"
_TEMPLATE: Final = "{" + _LINE + "}\n"


def rfc3339(moment: datetime) -> str:
    """`moment` in UTC, RFC 3339 with microseconds: ``2026-12-02T10:00:00.123456Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fields(record: Record) -> dict[str, Any]:
    """The flat fields of one record: the common keys, then the event's own."""
    extra = record["extra"]
    if extra.get("event") == "span":  # a finished span's record: its own ids, not the writer's
        trace_id, span_id = extra.get("trace_id"), extra.get("span_id")
    else:
        span = current_span()  # the writing thread's: loguru formats in the caller's thread
        trace_id, span_id = (span.trace_id, span.span_id) if span is not None else (None, None)
    error = record["exception"]
    text = None
    if error is not None and error.value is not None:
        text = "".join(traceback.format_exception(error.type, error.value, error.traceback))
    out: dict[str, Any] = {
        "time": rfc3339(record["time"]),
        "level": record["level"].name,
        "message": record["message"],
        "logger": record["name"],
        "actor": current_actor_name(),
        "trace_id": trace_id,
        "span_id": span_id,
        "exception": text,
    }
    for key, value in extra.items():
        if key in _CORE and out.get(key) == value:
            continue  # the span record's own ids, already in place
        out[CLASH_PREFIX + key if key in _CORE else key] = value
    return out


class Formatter:
    """loguru's ``format`` function for `configure_logging`'s handler.

    Args:
        json: One JSON object per line when true; else text for people.
        redact: Applied to every record's fields before they are written.
    """

    __slots__ = ("_json", "_redact")

    def __init__(self, *, json: bool, redact: Redact | None) -> None:
        self._json = json
        self._redact = redact

    def __call__(self, record: Record) -> str:
        values: Mapping[str, Any] = fields(record)
        if self._redact is not None:
            values = self._redact(cast(dict[str, Any], values))
        line = json.dumps(values, default=str, ensure_ascii=False) if self._json else text_line(values)
        # The line goes in as a value, so loguru neither parses its braces nor its markup.
        cast(dict[str, Any], record)[_LINE] = line
        return _TEMPLATE


def text_line(values: Mapping[str, Any]) -> str:
    """One record for people: time, level, logger, actor, message, then ``key=value`` fields."""
    actor = values.get("actor")
    head = f"{values.get('time')} {values.get('level', ''):<8} {values.get('logger')}"
    parts = [head if actor is None else f"{head} [{actor}]", str(values.get("message", ""))]
    parts += [f"{key}={value}" for key, value in values.items() if key not in _CORE and value is not None]
    for key in ("trace_id", "span_id"):
        if values.get(key) is not None:
            parts.append(f"{key}={values[key]}")
    line = " ".join(parts)
    error = values.get("exception")
    return line if error is None else f"{line}\n{str(error).rstrip()}"
