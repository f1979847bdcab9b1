"""The actors' per-message metrics: messages handled and ask latency by actor class, and
mailbox depth read at scrape time.

Counted in plain numbers (`zixir._counters`); each actor looks its series up once, at
creation, so a message costs an increment, and an ask one histogram observation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Final

from pykka import ActorRegistry

from zixir._counters import CounterChild, HistogramChild, counter, histogram, scrape_gauge

__all__ = ["ASK_LATENCY_BUCKETS", "ask_latency", "messages", "watch_mailboxes"]

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

_MESSAGES = counter("zixir_actor_messages", "Messages handled, by actor class", ("actor_class",))
_ASK_LATENCY = histogram(
    "zixir_actor_ask_latency_seconds",
    "Seconds from an ask to its answer, by the asked actor's class",
    ("actor_class",),
    ASK_LATENCY_BUCKETS,
)
_watching = threading.Event()


def messages(actor_class: str) -> CounterChild:
    """The series that counts messages handled by actors of `actor_class`."""
    return _MESSAGES.labels(actor_class)


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
