"""The one place the logs read `zixir.tracing`: the current span's ids, or None without it.

`zixir.tracing` is optional here: when it cannot be imported, records carry null ids.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["resolve", "span_ids"]

_current_span: Callable[[], Any] | None = None


def resolve() -> None:
    """Looks `zixir.tracing.current_span` up again (`configure_logging` calls it)."""
    global _current_span
    try:
        tracing = importlib.import_module("zixir.tracing")
    except ModuleNotFoundError as exc:
        if exc.name != "zixir.tracing":
            raise  # tracing is there but broken: say so
        _current_span = None
        return
    _current_span = getattr(tracing, "current_span", None)


def span_ids() -> tuple[str | None, str | None]:
    """The current span's ``(trace_id, span_id)``; ``(None, None)`` outside spans."""
    lookup = _current_span
    span = None if lookup is None else lookup()
    if span is None:
        return None, None
    return str(span.trace_id), str(span.span_id)
