"""Spans: timed, named operations in a trace, opened with `span` and found with `current_span`.

`span` works as a context manager and as a decorator of sync and async functions; the
span it opens is the child of the current one (or of an explicit `parent`).

Plain Python that Cython compiles as is when the package is built (spans.pxd makes
`Span` and the span scope C structs, so opening and ending a span runs without a Python
frame or a dict); ``ZIXIR_PUREPYTHON=1`` runs this source instead. Keep it free of
anything Cython compiles differently from Python.
"""

from __future__ import annotations

import functools
import inspect
import math
import random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, NamedTuple, TypeVar, cast

from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.tracing import export
from zixir.tracing._context import CURRENT, SpanContext

__all__ = ["Span", "SpanEvent", "current_span", "new_span_id", "new_trace_id", "span"]

F = TypeVar("F", bound=Callable[..., Any])

#: What an attribute value may be: OpenTelemetry's primitive types, or a tuple of them.
_PRIMITIVES = (str, bool, int, float)
_getrandbits = random.getrandbits  # the module's generator is reseeded in a forked child
_time = time.time
_perf_counter = time.perf_counter
_current = CURRENT.get
_set_current = CURRENT.set
_reset_current = CURRENT.reset
_OPEN = math.nan  # a span's end and duration while it is open (None when read)
# export's globals, where `deliver` and `sampler` are re-pointed as exporters come and go:
# read by key, a dict lookup, where ``export.deliver`` is a module attribute lookup.
_routes = vars(export)


def _random_id(bits: int) -> int:
    """A random id of `bits` bits, never zero (W3C: an all-zero id is invalid)."""
    while True:
        drawn = _getrandbits(bits)
        if drawn:
            return drawn


def new_trace_id() -> str:
    """A random trace id: 32 lowercase hex digits, never all zero."""
    return f"{_random_id(128):032x}"


def new_span_id() -> str:
    """A random span id: 16 lowercase hex digits, never all zero."""
    return f"{_random_id(64):016x}"


def _attribute(key: object, value: object) -> Any:
    if not isinstance(key, str):
        raise ArgumentTypeError(f"span attribute keys must be str, got {key!r}", "key")
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(item, _PRIMITIVES) for item in value):
        return tuple(value)
    raise ArgumentTypeError(
        f"span attribute {key!r} must be a str, bool, int, float or a list of them, got "
        f"{type(value).__name__}; pass str(value) or a field of it",
        key,
    )


def _attributes(attributes: Mapping[str, object]) -> dict[str, Any]:
    return {key: _attribute(key, value) for key, value in attributes.items()}


class SpanEvent(NamedTuple):
    """Something that happened at a point in a span (`Span.add_event`)."""

    name: str
    timestamp: float  # wall clock, epoch seconds
    attributes: dict[str, Any]


class Span(SpanContext):
    """One operation of a trace: its ids, times, status, attributes and events.

    Built by `span`; ends when its ``with`` block (or decorated call) ends, then goes to
    the exporters if sampled. The ids are drawn as ints and written out as hex when read;
    `attributes` and `events` are made when first used: a span opened and ended on a hot
    path costs two clock reads, a random draw (two for a root) and one object.

    Attributes:
        name: What the operation is, e.g. ``"Worker.work"``.
        trace_id: 32 lowercase hex digits, shared by every span of the trace.
        span_id: 16 lowercase hex digits.
        parent_id: The parent span's id; None for a root span.
        sampled: Whether the span is exported (decided at the root, inherited).
        start: Wall clock at the start, epoch seconds (`time.time`).
        end: Wall clock at the end (``start + duration``); None while the span is open.
        duration: Seconds from start to end on the monotonic clock; None while open.
        status: ``"ok"`` or ``"error"`` once ended; ``"unset"`` while open.
        error_type: The qualified name of the exception that ended the span, if any.
        error_message: Its message.
        attributes: Key -> str, bool, int, float, or a tuple of them.
        events: `SpanEvent` records, in order.
    """

    __slots__ = (
        "_attributes",
        "_duration",
        "_end",
        "_events",
        "_parent",
        "_started",
        "error_message",
        "error_type",
        "name",
        "start",
        "status",
    )

    _parent: int | None
    _started: float
    _end: float  # NaN while open, so that it stays a plain float (a C double when compiled)
    _duration: float
    _attributes: dict[str, Any] | None
    _events: list[SpanEvent] | None
    name: str
    start: float
    status: str
    error_type: str | None
    error_message: str | None

    def __init__(
        self,
        name: str,
        trace_id: str,
        span_id: str,
        parent_id: str | None,
        sampled: bool,
        attributes: dict[str, Any],
    ) -> None:
        # The checked constructor, from hex ids (a span rebuilt from a sandbox worker's
        # record); `start_span` sets the same fields without the checks.
        super().__init__(trace_id, span_id, sampled)
        self._parent = None if parent_id is None else SpanContext(trace_id, parent_id)._span
        self.name = name
        self._attributes = attributes
        self._events = None
        self.start = _time()
        self._started = _perf_counter()
        self._end = self._duration = _OPEN
        self.error_type = self.error_message = None
        self.status = "unset"

    @property
    def parent_id(self) -> str | None:
        """The parent span's id (16 lowercase hex digits); None for a root span."""
        parent = self._parent
        return None if parent is None else f"{parent:016x}"

    @property
    def end(self) -> float | None:
        """Wall clock at the end (``start + duration``); None while the span is open."""
        end = self._end
        return None if end != end else end  # NaN: open

    @end.setter
    def end(self, end: float | None) -> None:
        self._end = _OPEN if end is None else end

    @property
    def duration(self) -> float | None:
        """Seconds from start to end on the monotonic clock; None while the span is open."""
        duration = self._duration
        return None if duration != duration else duration  # NaN: open

    @duration.setter
    def duration(self, duration: float | None) -> None:
        self._duration = _OPEN if duration is None else duration

    @property
    def attributes(self) -> dict[str, Any]:
        """Key -> str, bool, int, float, or a tuple of them (`set_attribute` to add one)."""
        attributes = self._attributes
        if attributes is None:
            attributes = self._attributes = {}
        return attributes

    @attributes.setter
    def attributes(self, attributes: dict[str, Any]) -> None:
        self._attributes = attributes

    @property
    def events(self) -> list[SpanEvent]:
        """`SpanEvent` records, in order (`add_event` to add one)."""
        events = self._events
        if events is None:
            events = self._events = []
        return events

    @events.setter
    def events(self, events: list[SpanEvent]) -> None:
        self._events = events

    def __repr__(self) -> str:
        duration = self.duration
        took = "open" if duration is None else f"{duration * 1000:.3f} ms"
        return f"<Span {self.name!r} {self.trace_id}/{self.span_id} parent={self.parent_id} {self.status}, {took}>"

    def set_attribute(self, key: str, value: Any) -> None:
        """Sets one attribute (str, bool, int, float, or a list of them).

        Raises:
            ArgumentTypeError: `value` is of another type.
        """
        self.attributes[key] = _attribute(key, value)

    def add_event(self, name: str, **attributes: Any) -> None:
        """Records that `name` happened now, with `attributes`.

        At most `export.MAX_EVENTS` events are kept a span; later ones are counted in
        the ``zixir.dropped_events`` attribute.

        Raises:
            ArgumentTypeError: an attribute value is not a str, bool, int, float or list.
        """
        events = self.events
        if len(events) >= export.MAX_EVENTS:
            kept = self.attributes
            kept["zixir.dropped_events"] = kept.get("zixir.dropped_events", 0) + 1
            return
        events.append(SpanEvent(str(name), _time(), _attributes(attributes)))

    def record_error(self, error: BaseException) -> None:
        """Marks the span as failed by `error` (status ``"error"``, its type and message)."""
        kind = type(error)
        self.status = "error"
        module = kind.__module__
        self.error_type = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
        try:
            self.error_message = str(error)
        except Exception:
            self.error_message = f"<{self.error_type} whose str() raised>"

    def finish(self) -> None:
        """Ends the span (once) and hands it to the exporters if sampled."""
        if self._end == self._end:  # not NaN: already ended
            return
        duration = self._duration = _perf_counter() - self._started
        self._end = self.start + duration
        if self.status == "unset":
            self.status = "ok"
        if self.sampled:
            _routes["deliver"](self)

    def context(self) -> SpanContext:
        """The span's place in its trace, as a plain `SpanContext`."""
        context = SpanContext.__new__(SpanContext)
        context._trace, context._span, context.sampled = self._trace, self._span, self.sampled
        return context


def start_span(name: str, parent: SpanContext | None, attributes: dict[str, Any] | None) -> Span:
    """A new open span under `parent` (a root span, sampled by the ratio, without one).

    `attributes` (already checked) becomes the span's own dict; None for none.
    """
    opened = Span.__new__(Span)  # Span.__init__'s fields, set without its checks
    if parent is None:
        opened._trace = trace = _getrandbits(128) or _random_id(128)
        sampler = _routes["sampler"]
        opened.sampled = True if sampler is None else sampler(trace)
        opened._parent = None
    else:
        opened._trace = parent._trace
        opened.sampled = parent.sampled
        opened._parent = parent._span
    opened._span = _getrandbits(64) or _random_id(64)
    opened.name = name
    opened._attributes = attributes
    opened._events = None
    opened.start = _time()
    opened._started = _perf_counter()
    opened._end = opened._duration = _OPEN
    opened.error_type = opened.error_message = None
    opened.status = "unset"
    return opened


class _SpanScope:
    """What `span` returns: a context manager, and a decorator that opens one span a call."""

    __slots__ = ("_attributes", "_name", "_parent", "_span", "_token")

    _name: str
    _parent: SpanContext | None
    _attributes: dict[str, Any] | None  # checked; None for none, so no span copies an empty dict
    _span: Span | None
    _token: Any

    def __enter__(self) -> Span:
        if self._span is not None:
            raise InvalidArgumentError(
                f"the span {self._name!r} is already open; call tracing.span(...) again for another one",
                "span",
            )
        parent = self._parent
        attributes = self._attributes
        opened = self._span = start_span(
            self._name, _current() if parent is None else parent, None if attributes is None else dict(attributes)
        )
        self._token = _set_current(opened)
        return opened

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        opened = self._span
        self._span = None
        assert opened is not None
        if error is not None:
            opened.record_error(error)
        _reset_current(self._token)
        opened.finish()

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.__exit__(kind, error, traceback)

    def __call__(self, fn: F) -> F:
        name, parent, attributes = self._name, self._parent, self._attributes
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def traced_async(*args: Any, **kwargs: Any) -> Any:
                with _scope(name, parent, attributes):
                    return await fn(*args, **kwargs)

            return cast("F", traced_async)

        @functools.wraps(fn)
        def traced(*args: Any, **kwargs: Any) -> Any:
            with _scope(name, parent, attributes):
                return fn(*args, **kwargs)

        return cast("F", traced)


def _scope(name: str, parent: SpanContext | None, attributes: dict[str, Any] | None) -> _SpanScope:
    """A new scope, not open yet."""
    scope = _SpanScope.__new__(_SpanScope)
    scope._name = name
    scope._parent = parent
    scope._attributes = attributes
    scope._span = None
    return scope


def span(name: str, *, parent: SpanContext | None = None, **attributes: Any) -> _SpanScope:
    """Opens a span named `name`: ``with span("score", user=42) as s:`` or ``@span("score")``.

    As a decorator, each call of the function (sync or async) runs in a new span. An
    exception leaving the block marks the span ``"error"`` (with the exception's type and
    message) and passes on.

    Args:
        name: What the operation is.
        parent: The parent, e.g. `from_traceparent`'s result for a request from outside;
            by default the current span (none: a new trace).
        **attributes: The span's first attributes (str, bool, int, float, or lists of them).

    Returns:
        A context manager giving the `Span`, usable as a decorator.

    Raises:
        ArgumentTypeError: `name` is not a str, `parent` not a SpanContext, or an
            attribute value of another type.
    """
    if not isinstance(name, str):
        raise ArgumentTypeError(f"a span's name must be a str, got {name!r}", "name")
    if parent is not None and not isinstance(parent, SpanContext):
        raise ArgumentTypeError(
            f"parent must be a SpanContext (tracing.from_traceparent(header) or a Span), got {parent!r}", "parent"
        )
    return _scope(name, parent, _attributes(attributes) if attributes else None)


def current_span() -> Span | None:
    """The span that code running now belongs to; None outside any span (or under a
    remote parent only, which `traceparent` still reports)."""
    current = _current()
    return current if type(current) is Span else None
