"""Per-message metrics: messages handled and ask latency by actor class, mailbox depth at scrape."""

from __future__ import annotations

import threading
from typing import Any

from zixir import Actor, _counters
from zixir.actors import _metrics
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


def _messages(actor_class: str) -> int:
    return _metrics.handled().get(actor_class, 0)


def test_every_message_handled_is_counted_by_actor_class_and_every_ask_timed() -> None:
    before = _messages("MeteredEcho")
    ref = MeteredEcho.start()
    for i in range(10):
        assert ref.ask(i, timeout=WAIT) == i
    ref.tell("told")
    ref.ask("sync", timeout=WAIT)
    assert _messages("MeteredEcho") - before == 12
    assert f'zixir_actor_messages_total{{actor_class="MeteredEcho"}} {float(before + 12)}' in exposition()
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


def test_the_messages_of_an_actor_that_exited_stay_counted() -> None:
    before = _messages("MeteredEcho")
    for _ in range(2):
        ref = MeteredEcho.start()
        ref.ask("one", timeout=WAIT)
        ref.stop()  # the stop request is a message too
        assert ref.wait_exit(WAIT) is not None
    assert _messages("MeteredEcho") - before == 4
    assert f'zixir_actor_messages_total{{actor_class="MeteredEcho"}} {float(before + 4)}' in exposition()


def test_actor_classes_past_the_series_bound_are_counted_under_other_under_churn() -> None:
    before = _metrics.handled()
    limit = _counters.max_series()
    _counters.set_max_series(len(before))  # every class seen so far keeps its series; no new one
    try:
        for n in range(200):
            kind = type(f"Churned{n}", (MeteredEcho,), {})
            ref = kind.start()
            ref.ask(n, timeout=WAIT)
            ref.stop()
            assert ref.wait_exit(WAIT) is not None
    finally:
        _counters.set_max_series(limit)
    after = _metrics.handled()
    assert not [name for name in after if name.startswith("Churned")]
    assert set(after) <= {*before, _counters.OVERFLOW_LABEL}
    assert after[_counters.OVERFLOW_LABEL] - before.get(_counters.OVERFLOW_LABEL, 0) == 400
