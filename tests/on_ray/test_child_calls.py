"""Calling a child placed on Ray as a local one: refs, proxies, handles, futures and traces."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pykka
import pytest

import zixir
from tests.on_ray.targets import WAIT, Worker
from zixir import ChildSpec, Supervisor, tracing
from zixir.actors import registry
from zixir.errors import DeadlockError
from zixir.ray import RayPlacement
from zixir.tracing import Span

ray = pytest.importorskip("ray")


@pytest.fixture
def worker(ray_cluster: str) -> Iterator[Any]:
    """The ref of a Worker (factor 2) placed on Ray, under a root stopped before disconnecting."""
    tracing.clear()
    root = Supervisor.start(children=[ChildSpec("w", Worker, kwargs={"factor": 2}, placement=RayPlacement())])
    ref = registry.wait_for("w", WAIT)
    assert ref is not None
    yield ref
    root.stop(timeout=WAIT)
    tracing.clear()


def test_proxies_handles_and_futures_work_as_for_a_local_child(worker: Any) -> None:
    proxy = worker.proxy()
    assert isinstance(proxy, pykka.ActorProxy) and "work" in dir(proxy)
    assert proxy.work(4).get(timeout=WAIT) == 8
    assert proxy.factor.get(timeout=WAIT) == 2  # an attribute, read in the Ray actor
    proxy.factor = 5  # set there, once the call returns
    assert proxy.work(4).get(timeout=WAIT) == 20
    assert proxy.meter.add(3).get(timeout=WAIT) == 3  # a traversable attribute's method
    assert proxy.meter.reading.get(timeout=WAIT) == 3
    proxy.meter.add.defer(1)  # told: runs before the next call of this thread
    assert proxy.meter.reading.get(timeout=WAIT) == 4
    with pytest.raises(AttributeError, match=r"has no attribute 'nothing'$"):
        proxy.nothing  # noqa: B018
    assert pykka.get_all([proxy.work(i) for i in range(4)], timeout=WAIT) == [0, 5, 10, 15]
    assert proxy.work(2).map(lambda value: value + 1).get(timeout=WAIT) == 11
    assert worker.ask("hi", timeout=WAIT) == "got 'hi'"  # on_receive
    future = worker.ask("later", block=False)
    assert future.get(timeout=WAIT) == "got 'later'" and future.get() == "got 'later'"

    with pytest.raises(DeadlockError, match=r"waited for an answer from itself"):
        proxy.ask_myself().get(timeout=WAIT)

    handle = zixir.handle("w")
    assert handle.call("work", 1) == 5
    assert handle.ask("there") == "got 'there'"
    handle.tell("note")  # handled in order before the next call
    assert handle.proxy().work(3).get(timeout=WAIT) == 15


def test_a_trace_spans_the_local_caller_and_the_ray_actor(worker: Any) -> None:
    assert worker.proxy().traced_work(1).get(timeout=WAIT) == 2
    assert tracing.finished_spans() == []  # untraced: nothing comes back, nothing is kept here

    with tracing.span("caller") as caller:
        assert worker.proxy().traced_work(3).get(timeout=WAIT) == 6
    spans = {span.name: span for span in tracing.finished_spans(caller.trace_id)}
    assert set(spans) == {"caller", "Worker.traced_work", "inner"}
    remote, inner = spans["Worker.traced_work"], spans["inner"]
    assert remote.parent_id == caller.span_id and inner.parent_id == remote.span_id
    assert inner.attributes == {"x": 3} and remote.status == "ok"

    with tracing.span("failing") as failing, pytest.raises(Exception, match=r"^nope\n"):  # then its notes
        worker.proxy().fail().get(timeout=WAIT)
    (failed,) = [s for s in tracing.finished_spans(failing.trace_id) if s.name == "Worker.fail"]
    assert failed.status == "error" and failed.error_type == "tests.on_ray.targets.Boom"

    arrived = _SpanWaiter("Worker.on_receive")
    tracing.add_exporter(arrived)
    try:
        with tracing.span("teller") as teller:
            worker.tell("traced")  # its spans come back when the Ray actor has handled it
        assert arrived.wait(WAIT) == teller.trace_id
    finally:
        tracing.remove_exporter(arrived)


class _SpanWaiter:
    """An exporter that notes the trace of the first span named `name` it gets."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.trace_id: str | None = None
        self._seen = threading.Event()

    def export(self, spans: Sequence[Span]) -> None:
        for span in spans:
            if span.name == self.name and self.trace_id is None:
                self.trace_id = span.trace_id
                self._seen.set()

    def wait(self, timeout: float) -> str | None:
        self._seen.wait(timeout)
        return self.trace_id
