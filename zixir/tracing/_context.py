"""The current trace context: one context variable, read on every actor send.

Standard library only and nothing else here, so that the actors' envelope can read it
without loading the rest of `zixir.tracing`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final, TypeVar

__all__ = ["CURRENT", "SpanContext", "run_in"]

T = TypeVar("T")


class SpanContext:
    """Where a span sits in its trace: what a child, a message or a ``traceparent`` carries.

    Attributes:
        trace_id: 32 lowercase hex digits, not all zero.
        span_id: 16 lowercase hex digits, not all zero.
        sampled: Whether spans of this trace are exported (W3C's sampled flag).
    """

    __slots__ = ("sampled", "span_id", "trace_id")

    def __init__(self, trace_id: str, span_id: str, sampled: bool = True) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled

    def __repr__(self) -> str:
        return f"SpanContext(trace_id={self.trace_id!r}, span_id={self.span_id!r}, sampled={self.sampled})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpanContext):
            return NotImplemented
        return (self.trace_id, self.span_id, self.sampled) == (other.trace_id, other.span_id, other.sampled)

    def __hash__(self) -> int:
        return hash((self.trace_id, self.span_id, self.sampled))


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
