"""Spans: ids, nesting, decorators, errors, events, attributes and W3C traceparent."""

from __future__ import annotations

import asyncio
import re

import pytest

from zixir import tracing
from zixir.errors import ArgumentTypeError, InvalidArgumentError


def test_a_span_has_w3c_ids_times_and_an_ok_status() -> None:
    with tracing.span("score", user=42) as span:
        assert tracing.current_span() is span
    assert re.fullmatch(r"[0-9a-f]{32}", span.trace_id) and span.trace_id != "0" * 32
    assert re.fullmatch(r"[0-9a-f]{16}", span.span_id) and span.span_id != "0" * 16
    assert span.parent_id is None
    assert span.status == "ok" and span.error_type is None
    assert span.end is not None and span.duration is not None
    assert span.start <= span.end and span.duration >= 0
    assert span.attributes == {"user": 42}
    assert tracing.current_span() is None
    assert tracing.finished_spans() == [span]


def test_nested_spans_share_the_trace_and_link_to_their_parent() -> None:
    with tracing.span("outer") as outer, tracing.span("inner") as inner:
        assert tracing.current_span() is inner
    assert inner.trace_id == outer.trace_id and inner.parent_id == outer.span_id
    assert [s.name for s in tracing.finished_spans(outer.trace_id)] == ["inner", "outer"]
    with tracing.span("other") as other:
        pass
    assert other.trace_id != outer.trace_id
    assert tracing.finished_spans(other.trace_id) == [other]


def test_the_decorator_opens_a_span_per_call_of_a_sync_function() -> None:
    @tracing.span("double", kind="sync")
    def double(x: int) -> tuple[int, str | None]:
        current = tracing.current_span()
        return x * 2, None if current is None else current.name

    assert double(2) == (4, "double")
    assert double(3) == (6, "double")
    spans = tracing.finished_spans()
    assert [s.name for s in spans] == ["double", "double"] and spans[0].trace_id != spans[1].trace_id
    assert double.__name__ == "double"


def test_the_decorator_opens_a_span_per_call_of_an_async_function() -> None:
    @tracing.span("fetch")
    async def fetch(x: int) -> str | None:
        await asyncio.sleep(0)
        return tracing.traceparent()

    async def both() -> list[str | None]:
        with tracing.span("batch") as batch:
            headers = await asyncio.gather(fetch(1), fetch(2))
        assert all(header is not None and batch.trace_id in header for header in headers)
        return headers

    headers = asyncio.run(both())
    spans = tracing.finished_spans()
    assert sorted(s.name for s in spans) == ["batch", "fetch", "fetch"]
    batch = next(s for s in spans if s.name == "batch")
    assert all(s.parent_id == batch.span_id for s in spans if s.name == "fetch")
    assert len(set(headers)) == 2


def test_an_exception_marks_the_span_error_with_its_type_and_message_and_passes_on() -> None:
    with pytest.raises(KeyError), tracing.span("lookup") as span:
        raise KeyError("missing")
    assert span.status == "error"
    assert span.error_type == "KeyError" and span.error_message == "'missing'"

    @tracing.span("parse")
    def parse() -> None:
        raise InvalidArgumentError("no", "x")

    with pytest.raises(InvalidArgumentError):
        parse()
    assert tracing.finished_spans()[-1].error_type == "zixir.errors.InvalidArgumentError"


def test_events_and_attributes_are_recorded_with_timestamps() -> None:
    with tracing.span("load") as span:
        span.add_event("cache miss", key="k")
        span.set_attribute("rows", 3)
        span.set_attribute("tags", ["a", "b"])
    (event,) = span.events
    assert event.name == "cache miss" and event.attributes == {"key": "k"}
    assert span.start <= event.timestamp <= (span.end or 0)
    assert span.attributes == {"rows": 3, "tags": ("a", "b")}


def test_an_attribute_of_another_type_is_refused_with_the_fix() -> None:
    with pytest.raises(ArgumentTypeError, match=r"^span attribute 'when' must be .* got object; pass str\(value\)"):
        tracing.span("x", when=object())
    with tracing.span("x") as span, pytest.raises(ArgumentTypeError, match=r"^span attribute 'd'"):
        span.set_attribute("d", {"a": 1})


def test_a_span_context_manager_cannot_be_entered_twice_at_once() -> None:
    scope = tracing.span("once")
    with scope, pytest.raises(InvalidArgumentError, match=r"^the span 'once' is already open"), scope:
        pass


def test_traceparent_round_trips_into_a_parent() -> None:
    assert tracing.traceparent() is None
    with tracing.span("client") as client:
        header = tracing.traceparent()
    assert header == f"00-{client.trace_id}-{client.span_id}-01"
    assert header is not None
    parent = tracing.from_traceparent(header)
    assert (parent.trace_id, parent.span_id, parent.sampled) == (client.trace_id, client.span_id, True)
    with tracing.span("server", parent=parent) as server:
        assert tracing.traceparent() == f"00-{client.trace_id}-{server.span_id}-01"
    assert server.trace_id == client.trace_id and server.parent_id == client.span_id


def test_an_unsampled_traceparent_gives_unsampled_children_that_are_not_exported() -> None:
    parent = tracing.from_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")
    with tracing.span("server", parent=parent) as server:
        assert tracing.traceparent() == f"00-0af7651916cd43dd8448eb211c80319c-{server.span_id}-00"
    assert not server.sampled and tracing.finished_spans() == []


def test_a_later_version_may_add_fields_after_the_flags() -> None:
    parent = tracing.from_traceparent(" 01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03-extra ")
    assert parent.sampled and parent.trace_id == "0af7651916cd43dd8448eb211c80319c"


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("", "is malformed"),
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", "is malformed"),
        ("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", "is malformed"),
        ("00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01", "is malformed"),
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01", "is malformed"),
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1", "is malformed"),
        ("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "has the invalid version ff"),
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", "has fields after the flags"),
        ("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x", "is malformed"),
        ("00-00000000000000000000000000000000-b7ad6b7169203331-01", "has an all-zero trace id"),
        ("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", "has an all-zero parent id"),
    ],
)
def test_an_invalid_traceparent_is_refused_naming_the_header_and_the_fix(header: str, why: str) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^the traceparent header {re.escape(repr(header))} {why}") as info:
        tracing.from_traceparent(header)
    assert "send 00-<32 lowercase hex trace id>-<16 lowercase hex parent id>-<2 hex flags>" in str(info.value)
    assert info.value.argument == "header"


def test_a_parent_that_is_not_a_context_is_a_type_error() -> None:
    with pytest.raises(ArgumentTypeError, match=r"^parent must be a SpanContext"):
        tracing.span("x", parent="00-abc")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("trace_id", "span_id", "error", "field"),
    [
        ("0" * 32, "b7ad6b7169203331", InvalidArgumentError, "trace_id"),
        ("0AF7651916CD43DD8448EB211C80319C", "b7ad6b7169203331", InvalidArgumentError, "trace_id"),
        ("0af7651916cd43dd8448eb211c80319c", "b7ad6b716920333", InvalidArgumentError, "span_id"),
        ("0af7651916cd43dd8448eb211c80319c", "0" * 16, InvalidArgumentError, "span_id"),
        (0xAF7651916CD43DD8448EB211C80319C, "b7ad6b7169203331", ArgumentTypeError, "trace_id"),
    ],
)
def test_a_span_context_refuses_ids_that_are_not_w3c_ids(
    trace_id: str, span_id: str, error: type[Exception], field: str
) -> None:
    with pytest.raises(
        error, match=rf"^a span context's {field} must be \d+ lowercase hex digits, not all zero"
    ) as info:
        tracing.SpanContext(trace_id, span_id)
    assert info.value.argument == field  # type: ignore[attr-defined]


def test_ids_keep_their_leading_zeros_and_a_span_without_attributes_or_events_reads_empty() -> None:
    remote = tracing.SpanContext("00000000000000000000000000000001", "0000000000000002")
    assert (remote.trace_id, remote.span_id) == ("00000000000000000000000000000001", "0000000000000002")
    assert remote == tracing.SpanContext(remote.trace_id, remote.span_id) and len({remote, remote}) == 1
    with tracing.span("child", parent=remote) as span:
        assert span.context() == tracing.SpanContext(span.trace_id, span.span_id)
    assert span.trace_id == remote.trace_id and span.parent_id == "0000000000000002"
    assert span.attributes == {} and span.events == []
    span.attributes["late"] = 1  # the dict read is the span's own
    assert span.attributes == {"late": 1} and tracing.finished_spans(remote.trace_id) == [span]


def test_a_sampled_out_ratio_is_decided_from_the_trace_id_and_inherited() -> None:
    tracing.set_sample_ratio(0.5)
    roots = []
    for _ in range(400):
        with tracing.span("root") as root, tracing.span("child") as child:
            assert child.sampled == root.sampled
        roots.append(root)
    kept = [root for root in roots if root.sampled]
    assert 100 < len(kept) < 300  # 0.5 of 400, far outside chance either way
    assert all((int(root.trace_id, 16) & (2**64 - 1) < 2**63) == root.sampled for root in roots)
    assert len(tracing.finished_spans()) == 2 * len(kept)


def _fields(span: tracing.Span) -> tuple[object, ...]:
    return (span.end, span.duration, span.status, span.error_type, span.error_message, span.attributes, span.events)


def test_every_way_of_opening_a_span_gives_an_open_span_with_every_field_set() -> None:
    from zixir.tracing.spans import start_span

    open_fields = (None, None, "unset", None, None, {}, [])
    with tracing.span("scoped") as scoped:
        assert _fields(scoped) == open_fields and scoped.start > 0
    started = start_span("started", None, None)
    checked = tracing.Span("checked", scoped.trace_id, scoped.span_id, None, True, {})
    for opened in (started, checked):
        assert _fields(opened) == open_fields and opened.start > 0 and opened.parent_id is None
        opened.finish()
        assert opened.status == "ok" and opened.duration is not None and opened.end == opened.start + opened.duration
    assert tracing.finished_spans() == [scoped, started, checked]


def test_a_span_ends_once_and_its_times_can_be_set_as_a_rebuilt_span_does() -> None:
    with tracing.span("once") as span:
        pass
    ended = (span.end, span.duration)
    span.finish()  # a second end changes nothing and exports nothing
    assert (span.end, span.duration) == ended and tracing.finished_spans() == [span]
    span.end, span.duration = 12.5, 0.5
    assert (span.end, span.duration) == (12.5, 0.5)
    span.end = span.duration = None
    assert (span.end, span.duration) == (None, None) and "open" in repr(span)
