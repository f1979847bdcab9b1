"""The demo's traffic: a paced stream of scoring requests with backpressure, and the
agent's turns; both run until told to stop.

Requests go through ``Stream.parallel_map``, which takes at most ``workers + buffer``
requests from the source before the oldest is done: while the scoring worker restarts,
the source waits instead of piling requests up.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pykka

from zixir import tracing
from zixir.actors import handle
from zixir.demo.faults import FaultPlan
from zixir.resilience import RetryPolicy
from zixir.stream import Stream

__all__ = ["AgentLoop", "Requests", "TrafficCounts"]

WORKERS = 4
BUFFER = 8


@dataclass(frozen=True, slots=True)
class TrafficCounts:
    """A snapshot of the request traffic.

    Attributes:
        offered: Requests the source handed to the stream.
        served: Requests answered with a score.
        cached: Of those, answered from the cache.
        failed: Requests that got an error.
        crashes: Crashes injected into the scoring worker.
        served_after_crash: Requests answered after the first injected crash.
        retried: Requests that met a dead incarnation and were sent again.
        max_in_flight: The most requests taken from the source and not yet answered.
        bound: What the stream allows in flight (workers + buffer).
    """

    offered: int
    served: int
    cached: int
    failed: int
    crashes: int
    served_after_crash: int
    retried: int
    max_in_flight: int
    bound: int


class Requests:
    """Offers `plan.request_rate` scoring requests a second until `stop` is set; crashes the
    scoring worker before the requests `plan` says."""

    def __init__(self, plan: FaultPlan, stop: threading.Event, say: Callable[[str], None]) -> None:
        self.plan = plan
        self.stop = stop
        self.say = say
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._max_in_flight = 0
        # A request that reached an incarnation as it died is sent again to the next one.
        self._retry = RetryPolicy(
            max_attempts=3,
            initial_delay=0.05,
            jitter=0.0,
            retry_on=(pykka.ActorDeadError,),
            on_attempt=self._attempt,
        )

    def _attempt(self, number: int) -> None:
        if number > 1:
            self._add("retried")

    def _add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _source(self) -> Iterator[tuple[int, str]]:
        start = time.monotonic()
        number = 0
        while not self.stop.is_set():
            due = start + number / self.plan.request_rate
            if self.stop.wait(max(0.0, due - time.monotonic())):
                return
            if self.plan.crashes_before(number):
                self._add("crashes")
                self.say(f"fault: crashing demo-scorer before request {number}")
                handle("demo-scorer").proxy().crash.defer()  # told: its exception is a crash
            with self._lock:
                self._counts["offered"] += 1
                in_flight = self._counts["offered"] - self._counts["done"]
                self._max_in_flight = max(self._max_in_flight, in_flight)
            yield number, self.plan.user_for(number)
            number += 1

    def _score(self, request: tuple[int, str]) -> tuple[float, bool]:
        _, user = request
        result: tuple[float, bool] = self._retry.call(handle("demo-scorer").call, "score", user, timeout=10.0)
        return result

    def _done(self, outcome: Any) -> None:
        with self._lock:
            self._counts["done"] += 1
            if isinstance(outcome, Exception):
                self._counts["failed"] += 1
                return
            self._counts["served"] += 1
            self._counts["cached"] += int(outcome[1])
            if self._counts["crashes"]:
                self._counts["served_after_crash"] += 1

    def run(self) -> None:
        """Serves requests until `stop` is set (call on a thread of its own)."""
        with tracing.span("demo.requests"):
            Stream.defer(self._source).parallel_map(
                self._guarded, workers=WORKERS, buffer=BUFFER, ordered=False, name="score"
            ).for_each(self._done)

    def _guarded(self, request: tuple[int, str]) -> Any:
        try:
            return self._score(request)
        except Exception as exc:  # counted as a failed request; the stream goes on
            return exc

    def counts(self) -> TrafficCounts:
        """The counts so far."""
        with self._lock:
            c = self._counts
            return TrafficCounts(
                offered=c["offered"],
                served=c["served"],
                cached=c["cached"],
                failed=c["failed"],
                crashes=c["crashes"],
                served_after_crash=c["served_after_crash"],
                retried=c["retried"],
                max_in_flight=self._max_in_flight,
                bound=WORKERS + BUFFER,
            )


class AgentLoop:
    """Runs an agent turn every `plan.turn_interval` seconds until `stop` is set; the first
    turn runs in a span of its own, whose trace the summary shows."""

    def __init__(self, plan: FaultPlan, stop: threading.Event, say: Callable[[str], None]) -> None:
        self.plan = plan
        self.stop = stop
        self.say = say
        self.turns = 0
        self.errors = 0
        self.trace_id: str | None = None

    def run(self) -> None:
        """Runs turns until `stop` is set (call on a thread of its own)."""
        number = 0
        while not self.stop.is_set():
            fault = self.plan.tool_fault(number)
            if fault != "ok":
                self.say(f"fault: agent turn {number}: the tool call will {_WHAT[fault]}")
            try:
                if number == 0:
                    with tracing.span("agent.request", turn=number) as span:
                        handle("demo-agent").call("turn", number, timeout=30.0)
                    self.trace_id = span.trace_id
                else:
                    handle("demo-agent").call("turn", number, timeout=30.0)
                self.turns += 1
            except Exception as exc:  # counted; the summary's checks report it
                self.errors += 1
                self.say(f"agent turn {number} failed: {type(exc).__name__}: {exc}")
            number += 1
            self.stop.wait(self.plan.turn_interval)


_WHAT = {"hang": "hang past its timeout", "memory": "blow its memory limit"}
