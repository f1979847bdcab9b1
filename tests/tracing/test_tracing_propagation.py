"""The trace context travels with tell, ask, proxies, defer, handles, timers, warming and sandbox calls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest
import tracing_targets

from zixir import Actor, Sandbox, handle, tracing
from zixir.actors import ChildSpec, ensure_started
from zixir.actors.timers import send_after, send_interval
from zixir.tracing import Span

WAIT = 10.0


class Recorder(Actor):
    """Remembers the traceparent each message was handled under."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Any, str | None]] = []
        self.arrived = threading.Event()

    def on_receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("handler failed")
        self.seen.append((message, tracing.traceparent()))
        self.arrived.set()
        return tracing.traceparent()

    def work(self, x: int) -> str | None:
        return tracing.traceparent()

    def wait(self) -> list[tuple[Any, str | None]]:
        return self.seen


@pytest.fixture
def recorder() -> Iterator[pykka.ActorRef[Recorder]]:
    ref = Recorder.start()
    yield ref
    ref.stop()


def _handler_span(root: Span, name: str) -> Span:
    (child,) = [s for s in tracing.finished_spans(root.trace_id) if s.name == name]
    assert child.parent_id == root.span_id
    return child


def test_an_ask_is_handled_in_a_child_span_named_after_the_class(recorder: pykka.ActorRef[Recorder]) -> None:
    with tracing.span("caller") as root:
        header = recorder.ask("hi", timeout=WAIT)
    child = _handler_span(root, "Recorder.on_receive")
    assert header == f"00-{root.trace_id}-{child.span_id}-01"


def test_a_proxy_call_is_handled_in_a_span_named_after_the_method(recorder: pykka.ActorRef[Recorder]) -> None:
    with tracing.span("caller") as root:
        header = recorder.proxy().work(1).get(timeout=WAIT)
    child = _handler_span(root, "Recorder.work")
    assert header == f"00-{root.trace_id}-{child.span_id}-01"


def test_a_tell_and_a_defer_carry_the_context(recorder: pykka.ActorRef[Recorder]) -> None:
    actor = recorder.proxy()
    with tracing.span("caller") as root:
        recorder.tell("told")
        actor.work.defer(2)
    recorder.ask("sync", timeout=WAIT)  # both handled before this, in order
    names = sorted(s.name for s in tracing.finished_spans(root.trace_id))
    assert names == ["Recorder.on_receive", "Recorder.work", "caller"]
    seen = dict(actor.wait().get(timeout=WAIT))
    assert seen["told"] is not None and root.trace_id in seen["told"]


def test_a_message_from_code_without_a_span_is_handled_without_one(recorder: pykka.ActorRef[Recorder]) -> None:
    assert recorder.ask("plain", timeout=WAIT) is None
    assert recorder.proxy().work(1).get(timeout=WAIT) is None
    assert tracing.finished_spans() == []


def test_an_untraced_message_after_traced_ones_is_handled_without_a_span(recorder: pykka.ActorRef[Recorder]) -> None:
    with tracing.span("caller") as root:
        assert root.trace_id in (recorder.ask("traced", timeout=WAIT) or "")
        assert root.trace_id in (recorder.ask("again", timeout=WAIT) or "")
    assert recorder.ask("plain", timeout=WAIT) is None
    assert recorder.proxy().work(1).get(timeout=WAIT) is None
    assert len(tracing.finished_spans(root.trace_id)) == 3


class Watcher(Actor):
    """Records the traceparent its Down reports arrive under."""

    def __init__(self) -> None:
        super().__init__()
        self.downs: list[str | None] = []
        self.down = threading.Event()

    def on_down(self, down: Any) -> None:
        self.downs.append(tracing.traceparent())
        self.down.set()

    def watch(self, ref: pykka.ActorRef[Any]) -> None:
        self.monitor(ref)

    def seen(self) -> list[str | None]:
        return self.downs


def test_an_actor_stopped_by_a_traced_message_reports_its_exit_outside_that_span() -> None:
    watcher = Watcher.start()
    watched = Recorder.start()
    watcher.proxy().watch(watched).get(timeout=WAIT)
    with tracing.span("caller") as root:
        watched.ask("traced", timeout=WAIT)
        watched.stop(timeout=WAIT)  # the stop request carries the span too
    assert watched.wait_exit(WAIT) is not None
    assert watcher.proxy().seen().get(timeout=WAIT) == [None]
    names = sorted(s.name for s in tracing.finished_spans(root.trace_id))
    assert names == ["Recorder.on_receive", "Recorder.stop", "caller"]
    watcher.stop()


def test_span_names_are_kept_for_a_bounded_number_of_classes_under_churn() -> None:
    from pykka.messages import ProxyCall

    from zixir.tracing import _actors

    for n in range(2 * _actors.SPAN_NAMES):
        kind = type(f"Churned{n}", (), {})
        assert _actors.span_name(kind(), "message") == f"Churned{n}.on_receive"
        call = ProxyCall(attr_path=(f"method{n}",), args=(), kwargs={})
        assert _actors.span_name(kind(), call) == f"Churned{n}.method{n}"
    assert len(_actors._names) <= _actors.SPAN_NAMES
    assert not [kind for kind in _actors._names.values() if ".method" in kind]


def test_an_exception_in_the_handler_marks_its_span_error(recorder: pykka.ActorRef[Recorder]) -> None:
    with tracing.span("caller") as root, pytest.raises(RuntimeError):
        recorder.ask("boom", timeout=WAIT)
    child = _handler_span(root, "Recorder.on_receive")
    assert (child.status, child.error_type, child.error_message) == ("error", "RuntimeError", "handler failed")


def test_handles_carry_the_context() -> None:
    ensure_started(ChildSpec("tracing-recorder", Recorder))
    named = handle("tracing-recorder")
    with tracing.span("caller") as root:
        assert root.trace_id in (named.ask("a", timeout=WAIT) or "")
        assert root.trace_id in (named.call("work", 1, timeout=WAIT) or "")
    names = sorted(s.name for s in tracing.finished_spans(root.trace_id))
    assert names == ["Recorder.on_receive", "Recorder.work", "caller"]


def test_timers_send_in_the_context_of_the_code_that_scheduled_them(recorder: pykka.ActorRef[Recorder]) -> None:
    actor = recorder.proxy()
    with tracing.span("scheduler") as root:
        send_after(recorder, "later", 0.0)
    assert actor.arrived.get(timeout=WAIT).wait(WAIT)
    timer = send_interval(recorder, "tick", 0.001)  # scheduled outside any span
    try:
        seen: dict[Any, Any] = {}
        while "tick" not in seen:  # each check is an ask: handled after the ticks before it
            seen = dict(actor.wait().get(timeout=WAIT))
    finally:
        timer.cancel()
    assert seen["later"] is not None and root.trace_id in seen["later"]
    assert seen["tick"] is None
    assert _handler_span(root, "Recorder.on_receive").trace_id == root.trace_id


def test_cache_warming_loads_in_the_callers_trace(tmp_path: Path) -> None:
    from zixir import Cache

    headers: list[str | None] = []
    with Cache(str(tmp_path / "c")) as cache, tracing.span("warm") as root:
        cache.warm(["a", "b", "c"], lambda key: headers.append(tracing.traceparent()) or key, workers=3)
    assert len(headers) == 3 and all(h == f"00-{root.trace_id}-{root.span_id}-01" for h in headers)


class Sandboxed(Actor):
    """B in the chain: runs a sandbox call whose function opens a span in the worker."""

    def __init__(self, sandbox: Sandbox, done: threading.Event) -> None:
        super().__init__()
        self.sandbox = sandbox
        self.done = done

    def on_receive(self, message: Any) -> Any:
        self.result = self.sandbox.run(tracing_targets.traced_work, message)
        self.done.set()


class Forwarder(Actor):
    """A in the chain: tells B."""

    def __init__(self, target: pykka.ActorRef[Sandboxed]) -> None:
        super().__init__()
        self.target = target

    def forward(self, x: int) -> None:
        self.target.tell(x)


def test_one_trace_follows_an_ask_a_tell_and_a_sandbox_call_into_the_worker() -> None:
    done = threading.Event()
    with Sandbox(timeout=30.0) as sandbox:
        b = Sandboxed.start(sandbox, done)
        a = Forwarder.start(b)
        with tracing.span("request", path="/score") as root:
            a.proxy().forward(21).get(timeout=WAIT)
        assert done.wait(WAIT)
        # Asked outside the span (no span of its own); handled after on_receive's span ended.
        assert b.proxy().result.get(timeout=WAIT).value == 42
    spans = {s.name: s for s in tracing.finished_spans(root.trace_id)}
    assert set(spans) == {"request", "Forwarder.forward", "Sandboxed.on_receive", "worker.compute"}
    assert spans["Forwarder.forward"].parent_id == root.span_id
    assert spans["Sandboxed.on_receive"].parent_id == spans["Forwarder.forward"].span_id
    worker = spans["worker.compute"]
    assert worker.parent_id == spans["Sandboxed.on_receive"].span_id
    assert worker.attributes == {"x": 21} and [e.name for e in worker.events] == ["halfway"]
    assert len({s.trace_id for s in spans.values()}) == 1


def test_an_error_in_the_worker_comes_back_as_an_error_span() -> None:
    with Sandbox(timeout=30.0) as sandbox, tracing.span("caller") as root:
        assert sandbox.run(tracing_targets.traced_failure).reason == "exception"
    failed = _handler_span(root, "worker.fails")
    assert (failed.status, failed.error_type, failed.error_message) == ("error", "ValueError", "bad input")


def test_a_sampled_out_trace_still_propagates_ids_into_the_worker_but_exports_nothing(
    recorder: pykka.ActorRef[Recorder],
) -> None:
    tracing.set_sample_ratio(0.0)
    with Sandbox(timeout=30.0) as sandbox, tracing.span("caller") as root:
        header = recorder.ask("x", timeout=WAIT)
        remote = sandbox.run(tracing_targets.context_in_worker).value
        assert sandbox.run(tracing_targets.traced_work, 1).ok
    assert not root.sampled
    assert header is not None and header.startswith(f"00-{root.trace_id}-") and header.endswith("-00")
    assert remote == f"00-{root.trace_id}-{root.span_id}-00"
    assert tracing.finished_spans() == []
