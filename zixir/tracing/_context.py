"""The current trace context: one context variable, read on every actor send.

Standard library only and nothing else here, so that the actors' envelope can read it
without loading the rest of `zixir.tracing`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final, TypeVar

__all__ = ["CURRENT", "SpanContext", "run_in"]

T = TypeVar("T")

_HEX = {32: re.compile(r"[0-9a-f]{32}"), 16: re.compile(r"[0-9a-f]{16}")}


def _id(field: str, value: object, digits: int) -> int:
    """`value`, `digits` lowercase hex digits not all zero, as an int."""
    if not isinstance(value, str) or _HEX[digits].fullmatch(value) is None or not int(value, 16):
        from zixir.errors import ArgumentTypeError, InvalidArgumentError

        kind = InvalidArgumentError if isinstance(value, str) else ArgumentTypeError
        raise kind(
            f"a span context's {field} must be {digits} lowercase hex digits, not all zero; got {value!r}",
            field,
        )
    return int(value, 16)


class SpanContext:
    """Where a span sits in its trace: what a child, a message or a ``traceparent`` carries.

    The ids are kept as ints and written out as hex when read: a span that nobody reads
    never pays for the formatting.

    Args:
        trace_id: 32 lowercase hex digits, not all zero.
        span_id: 16 lowercase hex digits, not all zero.
        sampled: Whether spans of this trace are exported.

    Attributes:
        trace_id: 32 lowercase hex digits, not all zero.
        span_id: 16 lowercase hex digits, not all zero.
        sampled: Whether spans of this trace are exported (W3C's sampled flag).

    Raises:
        InvalidArgumentError: an id is not lowercase hex of its length, or is all zero.
        ArgumentTypeError: an id is not a str.
    """

    __slots__ = ("_span", "_trace", "sampled")

    # Set by every constructor: here, and `zixir.tracing.spans`' fast path, which skips
    # the checks for ids it drew itself.
    _trace: int
    _span: int
    sampled: bool

    def __init__(self, trace_id: str, span_id: str, sampled: bool = True) -> None:
        self._trace = _id("trace_id", trace_id, 32)
        self._span = _id("span_id", span_id, 16)
        self.sampled = sampled

    @property
    def trace_id(self) -> str:
        """32 lowercase hex digits, shared by every span of the trace."""
        return f"{self._trace:032x}"

    @property
    def span_id(self) -> str:
        """16 lowercase hex digits."""
        return f"{self._span:016x}"

    def __repr__(self) -> str:
        return f"SpanContext(trace_id={self.trace_id!r}, span_id={self.span_id!r}, sampled={self.sampled})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpanContext):
            return NotImplemented
        return (self._trace, self._span, self.sampled) == (other._trace, other._span, other.sampled)

    def __hash__(self) -> int:
        return hash((self._trace, self._span, self.sampled))


#: The span (or remote parent) that code running now belongs to; None outside any span.
CURRENT: Final[ContextVar[SpanContext | None]] = ContextVar("zixir_span", default=None)


def run_in(context: SpanContext | None, fn: Callable[..., T], *args: Any) -> T:
    """Calls ``fn(*args)`` with `context` as the current span: for work Zixir runs on
    another thread for a caller (a timer, a warming pool), captured with ``CURRENT.get()``."""
    if context is None:
        return fn(*args)
    token = CURRENT.set(context)
    try:
        return fn(*args)
    finally:
        CURRENT.reset(token)
