"""Functions that sandbox workers import by module name, for the tracing tests."""

from __future__ import annotations

from zixir import tracing


def traced_work(x: int) -> int:
    with tracing.span("worker.compute", x=x) as span:
        span.add_event("halfway", done=1)
        return x * 2


def traced_failure() -> None:
    with tracing.span("worker.fails"):
        raise ValueError("bad input")


def context_in_worker() -> str | None:
    return tracing.traceparent()
