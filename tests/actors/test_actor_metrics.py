"""Per-message metrics: messages handled and ask latency by actor class, mailbox depth at scrape."""

from __future__ import annotations

import threading
from typing import Any

from zixir import Actor, _counters
from zixir.actors._metrics import ASK_LATENCY_BUCKETS
from zixir.metrics import exposition

WAIT = 10.0


class MeteredEcho(Actor):
    def on_receive(self, message: Any) -> Any:
        return message


class MeteredBlocker(Actor):
    def __init__(self, release: threading.Event, entered: threading.Event) -> None:
        super().__init__()
        self.release, self.entered = release, entered

    def on_receive(self, message: Any) -> Any:
        self.entered.set()
        self.release.wait(WAIT)


def _messages(actor_class: str) -> float:
    (counter,) = [c for c in _counters.counters() if c.name == "zixir_actor_messages"]
    return dict(counter.samples()).get((actor_class,), 0.0)


def test_every_message_handled_is_counted_by_actor_class_and_every_ask_timed() -> None:
    before = _messages("MeteredEcho")
    ref = MeteredEcho.start()
    for i in range(10):
        assert ref.ask(i, timeout=WAIT) == i
    ref.tell("told")
    ref.ask("sync", timeout=WAIT)
    assert _messages("MeteredEcho") - before == 12
    (latency,) = [h for h in _counters.histograms() if h.name == "zixir_actor_ask_latency_seconds"]
    ((_, counts, total),) = [s for s in latency.samples() if s[0] == ("MeteredEcho",)]
    assert counts[-1] >= 11 and total > 0
    assert latency.buckets == ASK_LATENCY_BUCKETS and latency.buckets[0] == 0.00005 and latency.buckets[-1] == 10.0
    assert 'zixir_actor_ask_latency_seconds_bucket{actor_class="MeteredEcho",le="+Inf"}' in exposition()


def test_mailbox_depth_is_read_from_live_actors_at_scrape_time() -> None:
    release, entered = threading.Event(), threading.Event()
    ref = MeteredBlocker.start(release, entered)
    try:
        ref.tell("hold")
        assert entered.wait(WAIT)
        for i in range(5):
            ref.tell(i)
        assert 'zixir_actor_mailbox_depth{actor_class="MeteredBlocker"} 5.0' in exposition()
    finally:
        release.set()
    ref.stop()
    assert (
        'actor_class="MeteredBlocker"' not in exposition().split("zixir_actor_mailbox_depth", 1)[1].split("# HELP")[0]
    )
