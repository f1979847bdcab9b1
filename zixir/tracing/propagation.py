"""W3C trace context: the ``traceparent`` header out of the current span, and back into a parent.

``traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>``; bit 0 of the
flags is "sampled" (https://www.w3.org/TR/trace-context/#traceparent-header).
"""

from __future__ import annotations

import re

from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.tracing._context import CURRENT, SpanContext

__all__ = ["from_traceparent", "traceparent"]

_HEADER = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_FIX = "send 00-<32 lowercase hex trace id>-<16 lowercase hex parent id>-<2 hex flags>, as in the W3C trace context"


def traceparent() -> str | None:
    """The W3C ``traceparent`` header for the current span; None outside any span."""
    current = CURRENT.get()
    if current is None:
        return None
    return f"00-{current.trace_id}-{current.span_id}-{'01' if current.sampled else '00'}"


def from_traceparent(header: str) -> SpanContext:
    """The parent that a W3C ``traceparent`` header names, for ``tracing.span(..., parent=...)``.

    Follows the W3C rules: version ``ff`` is invalid; version ``00`` has exactly four
    fields; a later version may add fields after the flags, which are ignored; ids are
    lowercase hex and not all zero. Surrounding whitespace is ignored.

    Args:
        header: The header's value.

    Returns:
        The remote span as a SpanContext (sampled from bit 0 of the flags).

    Raises:
        InvalidArgumentError: the header is malformed; the message names what and the fix.
        ArgumentTypeError: `header` is not a str.
    """
    if not isinstance(header, str):
        raise ArgumentTypeError(f"the traceparent header must be a str, got {header!r}", "header")
    value = header.strip()
    match = _HEADER.fullmatch(value)
    if match is None:
        raise InvalidArgumentError(f"the traceparent header {header!r} is malformed; {_FIX}", "header")
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff":
        raise InvalidArgumentError(f"the traceparent header {header!r} has the invalid version ff; {_FIX}", "header")
    if version == "00" and rest is not None:
        raise InvalidArgumentError(
            f"the traceparent header {header!r} has fields after the flags, which version 00 does not allow; {_FIX}",
            "header",
        )
    if rest is not None and not rest.startswith("-"):
        raise InvalidArgumentError(f"the traceparent header {header!r} is malformed; {_FIX}", "header")
    if trace_id == "0" * 32:
        raise InvalidArgumentError(f"the traceparent header {header!r} has an all-zero trace id; {_FIX}", "header")
    if span_id == "0" * 16:
        raise InvalidArgumentError(f"the traceparent header {header!r} has an all-zero parent id; {_FIX}", "header")
    return SpanContext(trace_id, span_id, bool(int(flags, 16) & 1))
