"""Where finished spans go: a bounded in-memory ring, and exporters fed by one background thread.

The ring is appended to synchronously when a span ends. Every other exporter has its own
bounded queue, drained by one daemon thread (started with the first exporter): an
exporter that falls behind loses spans, counted in ``zixir_spans_dropped_total``, and
never slows the code that ends them.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from loguru import logger

from zixir import _validate
from zixir._counters import counter
from zixir.errors import ArgumentTypeError

if TYPE_CHECKING:
    from zixir.tracing.spans import Span

__all__ = [
    "MAX_EVENTS",
    "Exporter",
    "add_exporter",
    "capture",
    "clear",
    "deliver",
    "exporters",
    "finished",
    "finished_spans",
    "flush",
    "queue_size",
    "remove_exporter",
    "ring_size",
    "sample",
    "sample_ratio",
    "sampler",
    "set_queue_size",
    "set_ring_size",
    "set_sample_ratio",
]

#: Events kept a span; further ones are counted, not kept.
MAX_EVENTS = 128
_BATCH = 512  # spans handed to an exporter at once

_DROPPED = counter("zixir_spans_dropped", "Finished spans an exporter lost because its queue was full", ("exporter",))


@runtime_checkable
class Exporter(Protocol):
    """Receives finished, sampled spans in batches, on the tracing thread.

    An exporter may also define ``shutdown()``, called by `remove_exporter`.
    """

    def export(self, spans: Sequence[Span], /) -> None:
        """Sends or stores `spans`; an exception is logged and the batch is lost."""
        ...


class _Queue:
    """One exporter's bounded backlog."""

    __slots__ = ("dropped", "exporter", "label", "spans")

    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter
        self.spans: collections.deque[Span] = collections.deque()
        self.label = getattr(exporter, "name", None) or type(exporter).__name__
        self.dropped = _DROPPED.labels(self.label)


_lock = threading.Lock()
_work = threading.Condition(_lock)  # spans queued, or an exporter added/removed
_idle = threading.Condition(_lock)  # a batch was exported
_ring: collections.deque[Span] = collections.deque(maxlen=10_000)
_queues: tuple[_Queue, ...] = ()
_queue_size = 10_000
_busy = 0  # batches being exported right now
_thread: threading.Thread | None = None
_ratio = 1.0
_threshold = 1 << 64  # a root is sampled when the low 64 bits of its trace id are below this
_captured: list[Span] | None = None  # set in a sandbox worker during a call
_capture_limit = 0


def _route() -> None:
    """Points `deliver` at the ring's own append while it is the only place spans go."""
    global deliver
    deliver = _ring.append if not _queues and _captured is None else finished


def sample_ratio() -> float:
    """The share of new traces that are sampled (exported): 1.0 by default."""
    return _ratio


def set_sample_ratio(ratio: float) -> None:
    """Sets the share of new traces that are exported, from 0.0 (none) to 1.0 (all).

    Decided once a trace, at its root span, from the trace id (W3C's sampled flag), and
    inherited by every child: across actors and sandbox calls too. An unsampled span still
    has ids and propagates; it is only not exported.

    Raises:
        InvalidArgumentError: `ratio` is outside 0..1 or not finite.
        ArgumentTypeError: `ratio` is not a number.
    """
    global _ratio, _threshold, sampler
    _ratio = _validate.number("ratio", ratio, at_least=0.0, at_most=1.0)
    _threshold = int(_ratio * (1 << 64))
    sampler = None if _threshold > (1 << 64) - 1 else sample


def sample(trace: int) -> bool:
    """Whether a new trace is sampled, under the ratio, from its id `trace` (as an int)."""
    return _threshold > (1 << 64) - 1 or (trace & ((1 << 64) - 1)) < _threshold


#: What a root span asks whether its new trace is sampled: `sample`, or None while the
#: ratio is 1.0 and every trace is (no call at all).
sampler: Callable[[int], bool] | None = None


def ring_size() -> int:
    """How many finished spans the ring keeps (10,000 by default); older ones fall off."""
    return _ring.maxlen or 0


def set_ring_size(size: int) -> None:
    """Sets how many finished spans the ring keeps; the newest ones stay.

    Raises:
        InvalidArgumentError: `size` is below 1.
        ArgumentTypeError: `size` is not an int.
    """
    global _ring
    size = _validate.whole("size", size)
    with _lock:
        _ring = collections.deque(_ring, maxlen=size)
        _route()


def finished_spans(trace_id: str | None = None) -> list[Span]:
    """The spans in the ring, oldest first; only those of `trace_id` if given."""
    spans = list(_ring)
    if trace_id is None:
        return spans
    return [span for span in spans if span.trace_id == trace_id]


def clear() -> None:
    """Empties the ring."""
    _ring.clear()


def queue_size() -> int:
    """How many spans each exporter's queue holds before new ones are dropped (10,000)."""
    return _queue_size


def set_queue_size(size: int) -> None:
    """Sets the bound of each exporter's queue.

    Raises:
        InvalidArgumentError: `size` is below 1.
        ArgumentTypeError: `size` is not an int.
    """
    global _queue_size
    _queue_size = _validate.whole("size", size)


def exporters() -> list[Exporter]:
    """The exporters added with `add_exporter`, in order (the ring is not one of them)."""
    return [queue.exporter for queue in _queues]


def add_exporter(exporter: Exporter) -> None:
    """Sends every finished, sampled span to `exporter` too, from the tracing thread.

    The exporter's ``name`` attribute (or its class name) labels the spans it dropped in
    ``zixir_spans_dropped_total``. Adding the same exporter twice adds it once.

    Raises:
        ArgumentTypeError: `exporter` has no ``export(spans)`` method.
    """
    global _queues, _thread
    if not callable(getattr(exporter, "export", None)):
        raise ArgumentTypeError(
            f"an exporter needs an export(spans) method, got {exporter!r}; see zixir.tracing.Exporter", "exporter"
        )
    with _lock:
        if any(queue.exporter is exporter for queue in _queues):
            return
        _queues = (*_queues, _Queue(exporter))
        _route()
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_drain, name="zixir-tracing", daemon=True)
            _thread.start()


def remove_exporter(exporter: Exporter, timeout: float | None = 5.0) -> bool:
    """Stops sending spans to `exporter`, after exporting what it has queued.

    Calls its ``shutdown()`` if it has one.

    Returns:
        False if `exporter` was not added, or did not catch up within `timeout`.
    """
    global _queues
    caught_up = flush(timeout)
    with _lock:
        kept = tuple(queue for queue in _queues if queue.exporter is not exporter)
        found = len(kept) != len(_queues)
        _queues = kept
        _route()
    shutdown = getattr(exporter, "shutdown", None)
    if found and callable(shutdown):
        shutdown()
    return found and caught_up


def flush(timeout: float | None = 5.0) -> bool:
    """Waits until every exporter has exported what was queued.

    Returns:
        True if they caught up within `timeout` seconds.
    """
    with _lock:
        return _idle.wait_for(lambda: _busy == 0 and not any(queue.spans for queue in _queues), timeout)


def finished(span: Span) -> None:
    """Takes a sampled span that just ended: into the ring, and every exporter's queue."""
    captured = _captured
    if captured is not None:
        if len(captured) < _capture_limit:
            captured.append(span)
        else:
            _DROPPED.labels("sandbox").inc()
        return
    _ring.append(span)
    queues = _queues
    if queues:
        with _lock:
            for queue in queues:
                if len(queue.spans) >= _queue_size:
                    queue.dropped.inc()
                else:
                    queue.spans.append(span)
            _work.notify()


#: What takes a sampled span as it ends (`Span.finish`): `finished`, or, while no exporter
#: is added and no sandbox call keeps spans, the ring's own append (no call in between).
deliver: Callable[[Span], None] = finished
_route()


def capture(limit: int | None) -> list[Span] | None:
    """Starts (`limit` spans at most) or ends (None) keeping finished spans for a sandbox call.

    In a sandbox worker, spans that end during a call go back to the host with its result
    instead of to this process's ring and exporters; past `limit` they are dropped (and
    counted under ``exporter="sandbox"``).

    Returns:
        When ending, the spans kept since the start; None when starting.
    """
    global _captured, _capture_limit
    if limit is not None:
        _captured, _capture_limit = [], limit
        _route()
        return None
    spans, _captured = _captured, None
    _route()
    return spans


def _drain() -> None:
    global _busy
    while True:
        with _lock:
            _work.wait_for(lambda: any(queue.spans for queue in _queues))
            batches = []
            for queue in _queues:
                spans = queue.spans
                if spans:
                    batch = [spans.popleft() for _ in range(min(len(spans), _BATCH))]
                    batches.append((queue, batch))
            _busy += 1
        try:
            for queue, batch in batches:
                try:
                    queue.exporter.export(batch)
                except Exception as exc:
                    logger.opt(exception=exc).warning("span exporter {} failed; lost {} spans", queue.label, len(batch))
        finally:
            with _lock:
                _busy -= 1
                _idle.notify_all()
