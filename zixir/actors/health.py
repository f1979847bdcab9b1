"""Hang detection beyond OTP: a supervisor pings its children and abandons the silent ones.

A `HealthCheck` message arrives on an interval (`zixir.actors.timers`); the supervisor
then checks, without waiting, which earlier pings went unanswered past their deadline,
and pings its children again. A Python thread cannot be killed: a hung child is
abandoned and a fresh incarnation started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import pykka

from zixir.actors._pykka import future_has_result
from zixir.actors.messages import _Ping
from zixir.actors.ref import ActorRef, Future
from zixir.actors.timers import Timer, send_interval

__all__ = ["HealthCheck", "HealthChecker"]


class HealthCheck(NamedTuple):
    """Told to a supervisor (by its interval timer): check the last pings, ping again."""


class HealthChecker:
    """The pings a supervisor has out, checked from the supervisor's own thread.

    Args:
        interval: Seconds between `HealthCheck` messages.
        timeout: Seconds a child has to answer a ping.
        clock: Monotonic clock (seconds), the supervisor's.
    """

    def __init__(self, interval: float, timeout: float, clock: Callable[[], float]) -> None:
        self.interval = interval
        self.timeout = timeout
        self._clock = clock
        self._pending: dict[ActorRef[Any], tuple[Future[Any], float]] = {}  # <= one per child
        self._timer: Timer | None = None

    def start(self, supervisor: pykka.ActorRef[Any]) -> None:
        """Starts telling `supervisor` a `HealthCheck` every `interval` seconds."""
        self._timer = send_interval(supervisor, HealthCheck(), self.interval)

    def stop(self) -> None:
        """Stops the checks and forgets the pings out."""
        if self._timer is not None:
            self._timer.cancel()
        self._pending.clear()

    def check(self, children: Iterable[ActorRef[Any]]) -> list[ActorRef[Any]]:
        """Returns the children whose ping went unanswered past its deadline; pings the rest.

        Never blocks: a ping still within its deadline stays out until the next check.

        Args:
            children: The running children now.
        """
        now = self._clock()
        running = set(children)
        hung: list[ActorRef[Any]] = []
        for ref, (future, deadline) in list(self._pending.items()):
            if future_has_result(future) or ref not in running:
                del self._pending[ref]  # answered (or died: its Down is on the way), or replaced
            elif now >= deadline:
                del self._pending[ref]
                hung.append(ref)
        for ref in running:
            if ref not in self._pending and ref not in hung:
                self._pending[ref] = (ref.ask(_Ping(), block=False), now + self.timeout)
        return hung
