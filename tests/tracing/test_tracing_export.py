"""Where spans go: the bounded ring, exporters on the background thread, drops, flush, OTel."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from zixir import _counters, tracing
from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.tracing import JsonLogExporter, OTelExporter, Span

WAIT = 10.0


def _dropped(label: str) -> float:
    (dropped,) = [c for c in _counters.counters() if c.name == "zixir_spans_dropped"]
    return dict(dropped.samples()).get((label,), 0.0)


class Collecting:
    """An exporter that keeps what it gets."""

    name = "collecting"

    def __init__(self) -> None:
        self.spans: list[Span] = []

    def export(self, spans: Sequence[Span], /) -> None:
        self.spans.extend(spans)


class Blocked:
    """An exporter stuck until `release` is set."""

    name = "blocked"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.count = 0

    def export(self, spans: Sequence[Span], /) -> None:
        self.entered.set()
        self.release.wait(WAIT)
        self.count += len(spans)


def test_the_ring_keeps_the_newest_spans_within_its_size_under_100000_spans() -> None:
    tracing.set_ring_size(1000)
    for i in range(100_000):
        with tracing.span("s", i=i) as last:
            pass
    spans = tracing.finished_spans()
    assert len(spans) == 1000 and tracing.ring_size() == 1000
    assert spans[-1] is last and spans[0].attributes == {"i": 99_000}
    tracing.set_ring_size(10)
    assert [s.attributes["i"] for s in tracing.finished_spans()] == list(range(99_990, 100_000))


def test_ring_and_queue_sizes_are_validated() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^size must be an int >= 1, got 0$"):
        tracing.set_ring_size(0)
    with pytest.raises(ArgumentTypeError, match=r"^size must be an int, got 1.5$"):
        tracing.set_queue_size(1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^ratio must be a finite number >= 0.0 and <= 1.0, got 2$"):
        tracing.set_sample_ratio(2)
    with pytest.raises(ArgumentTypeError, match=r"^an exporter needs an export\(spans\) method"):
        tracing.add_exporter(object())  # type: ignore[arg-type]


def test_an_exporter_gets_every_sampled_span_and_flush_waits_for_it() -> None:
    exporter = Collecting()
    tracing.add_exporter(exporter)
    tracing.add_exporter(exporter)  # once only
    with tracing.span("a"), tracing.span("b"):
        pass
    assert tracing.flush(WAIT)
    assert [s.name for s in exporter.spans] == ["b", "a"]
    assert tracing.exporters() == [exporter]
    assert tracing.remove_exporter(exporter)
    assert tracing.exporters() == []
    assert not tracing.remove_exporter(exporter)


def test_a_slow_exporter_never_blocks_the_caller_and_counts_what_it_dropped() -> None:
    tracing.set_queue_size(100)
    blocked = Blocked()
    tracing.add_exporter(blocked)
    before = _dropped("blocked")
    try:
        with tracing.span("first"):
            pass
        assert blocked.entered.wait(WAIT)  # the thread is stuck in export now
        for _ in range(1000):  # would hang here if ending a span waited for the exporter
            with tracing.span("more"):
                pass
        assert _dropped("blocked") - before == 900  # 100 fit in its queue
        assert not tracing.flush(0.01)
    finally:
        blocked.release.set()
        tracing.set_queue_size(10_000)
    assert tracing.flush(WAIT)
    assert blocked.count == 101
    assert len(tracing.finished_spans()) == 1001  # the ring kept them all


def test_an_exporter_that_raises_loses_its_batch_and_the_thread_goes_on() -> None:
    class Failing:
        def export(self, spans: Sequence[Span], /) -> None:
            raise OSError("collector down")

    good = Collecting()
    tracing.add_exporter(Failing())
    tracing.add_exporter(good)
    with tracing.span("x"):
        pass
    assert tracing.flush(WAIT)
    with tracing.span("y"):
        pass
    assert tracing.flush(WAIT)
    assert [s.name for s in good.spans] == ["x", "y"]


def test_a_ratio_of_zero_exports_nothing_but_ids_still_propagate() -> None:
    exporter = Collecting()
    tracing.add_exporter(exporter)
    tracing.set_sample_ratio(0.0)
    with tracing.span("root") as root, tracing.span("child") as child:
        header = tracing.traceparent()
    assert header == f"00-{root.trace_id}-{child.span_id}-00"
    assert child.trace_id == root.trace_id and child.parent_id == root.span_id and not child.sampled
    assert tracing.flush(WAIT)
    assert tracing.finished_spans() == [] and exporter.spans == []
    tracing.set_sample_ratio(0.5)
    for _ in range(400):
        with tracing.span("r"):
            pass
    assert 100 < len(tracing.finished_spans()) < 300  # 200 expected; binomial, sd 10


def test_the_json_log_exporter_writes_one_record_per_span_with_its_fields(records: list[dict[str, Any]]) -> None:
    tracing.add_exporter(JsonLogExporter())
    with pytest.raises(ValueError), tracing.span("job", rows=2) as span:
        span.add_event("start")
        raise ValueError("bad")
    assert tracing.flush(WAIT)
    (record,) = [r for r in records if r["extra"].get("event") == "span"]
    extra = record["extra"]
    assert record["message"] == "span job" and record["level"].name == "INFO"
    assert (extra["trace_id"], extra["span_id"], extra["parent_id"]) == (span.trace_id, span.span_id, None)
    assert (extra["status"], extra["error_type"], extra["error_message"]) == ("error", "ValueError", "bad")
    assert extra["attributes"] == {"rows": 2} and extra["events"][0]["name"] == "start"
    assert extra["duration"] == span.duration and extra["start"] == span.start


def test_the_otel_exporter_produces_otel_spans_with_the_same_ids_parents_and_times() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    memory = InMemorySpanExporter()
    tracing.add_exporter(OTelExporter(memory, service_name="tests"))
    with tracing.span("outer", user="ada") as outer, pytest.raises(KeyError), tracing.span("inner") as inner:
        inner.add_event("lookup", key="k")
        raise KeyError("k")
    assert tracing.flush(WAIT)
    got = {s.name: s for s in memory.get_finished_spans()}
    o, i = got["outer"], got["inner"]
    assert f"{o.context.trace_id:032x}" == outer.trace_id and f"{o.context.span_id:016x}" == outer.span_id
    assert f"{i.context.trace_id:032x}" == outer.trace_id and f"{i.context.span_id:016x}" == inner.span_id
    assert o.parent is None and i.parent is not None and f"{i.parent.span_id:016x}" == outer.span_id
    assert o.start_time == round(outer.start * 1e9) and o.end_time == round((outer.end or 0) * 1e9)
    assert o.status.status_code is StatusCode.OK and dict(o.attributes or {}) == {"user": "ada"}
    assert i.status.status_code is StatusCode.ERROR and i.status.description == "KeyError: 'k'"
    assert [(e.name, dict(e.attributes or {})) for e in i.events] == [("lookup", {"key": "k"})]
    assert o.context.trace_flags.sampled and o.resource.attributes["service.name"] == "tests"
