"""The actors' per-message metrics: messages handled and ask latency by actor class, and
mailbox depth read at scrape time.

A message costs its actor one increment of a plain int attribute, written only by the
actor's own thread (no lock): a scrape sums the counts of running actors, and the totals
kept for exited ones. An ask also costs one histogram observation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final, Protocol

from pykka import ActorRegistry

from zixir import _counters
from zixir._counters import HistogramChild, histogram, scrape_gauge

if TYPE_CHECKING:
    from prometheus_client.core import Metric

__all__ = ["ASK_LATENCY_BUCKETS", "Counted", "ask_latency", "exited", "handled", "running", "watch_mailboxes"]

#: Upper bounds, in seconds, of the ask latency histogram's buckets: 50 us to 10 s.
ASK_LATENCY_BUCKETS: Final = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
)

_ASK_LATENCY = histogram(
    "zixir_actor_ask_latency_seconds",
    "Seconds from an ask to its answer, by the asked actor's class",
    ("actor_class",),
    ASK_LATENCY_BUCKETS,
)
_watching = threading.Event()


class Counted(Protocol):
    """An actor as the message counter sees it: the count its own thread increments."""

    _messages_handled: int


# The actors whose loop runs, with the series each counts in, and the totals of the
# actors that exited, per series. A series is given to an actor class the first time one
# of its actors runs and kept for the life of the process, so a class never moves between
# its own series and the overflow one (a counter that moved would seem to go down):
# `_totals` holds at most `max_series()` classes, and later classes count under "other".
_lock = threading.Lock()
_running: dict[Counted, str] = {}
_totals: dict[str, int] = {}


def running(actor: Counted) -> None:
    """Counts `actor`'s messages from now on; called in its thread before its loop starts."""
    name = type(actor).__name__
    with _lock:
        if name not in _totals:
            if len(_totals) >= _counters.max_series():
                name = _counters.OVERFLOW_LABEL
            _totals.setdefault(name, 0)
        _running[actor] = name


def exited(actor: Counted) -> None:
    """Moves `actor`'s count into its class's total; called in its thread after its loop."""
    with _lock:
        name = _running.pop(actor, None)
        if name is not None:
            _totals[name] += actor._messages_handled


def handled() -> dict[str, int]:
    """Messages handled so far, by series (actor class, or "other"): exited actors' and
    running actors' counts, read under the lock so that no count is seen twice or missed."""
    with _lock:
        totals = dict(_totals)
        for actor, name in _running.items():
            totals[name] += actor._messages_handled
    return totals


class _MessagesCollector:
    """``zixir_actor_messages_total``, summed when scraped."""

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily(
            "zixir_actor_messages", "Messages handled, by actor class", labels=("actor_class",)
        )
        for name, count in handled().items():
            family.add_metric((name,), count)
        yield family


def ask_latency(actor_class: str) -> HistogramChild:
    """The series of ask latencies to actors of `actor_class`."""
    return _ASK_LATENCY.labels(actor_class)


def _mailbox_depths() -> Iterator[tuple[tuple[str, ...], float]]:
    for ref in ActorRegistry.get_all():
        depth = getattr(ref, "mailbox_depth", None)
        if depth is not None:
            yield (ref.actor_class.__name__,), float(depth())


def watch_mailboxes() -> None:
    """Creates the ``zixir_actor_mailbox_depth`` gauge (once), read from live actors when scraped."""
    if not _watching.is_set():
        scrape_gauge(
            "zixir_actor_mailbox_depth",
            "Messages waiting in the mailboxes of running actors, by actor class",
            ("actor_class",),
            _mailbox_depths,
        )
        _watching.set()


_counters.register_collector(_MessagesCollector())
