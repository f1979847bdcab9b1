"""The supervision trees of this process, as their supervisors publish them.

Health checks, ``/healthz`` and the metrics read supervisors here, from any thread,
without asking them: a supervisor busy restarting a child still shows up, with that child
``"restarting"``. Live supervisors are listed while they run; a root supervisor that gave
up stays listed (as ``"gave_up"``) among the last `ENDED_KEPT`, so a health check can
still see why its tree is down, until `forget_ended`.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from zixir import _counters
from zixir.actors.records import ChildState

__all__ = [
    "ENDED_KEPT",
    "PublishedChild",
    "PublishedSupervisor",
    "Publisher",
    "SupervisorPhase",
    "forget_ended",
    "publish",
    "roots",
    "supervisors",
    "withdraw",
]

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from prometheus_client.core import Metric

#: starting: in its own on_start; running: its children started; gave_up: it exceeded its
#: restart intensity (or its start failed); stopped: it exited otherwise.
SupervisorPhase = Literal["starting", "running", "gave_up", "stopped"]

#: How many supervisors that gave up stay listed after their exit (the newest ones).
ENDED_KEPT = 100


@dataclass(frozen=True, slots=True)
class PublishedChild:
    """One child as its supervisor last showed it.

    Attributes:
        name: The child's name.
        state: ``"running"``, ``"starting"``, ``"restarting"`` or ``"stopped"``.
        restarts: How many times its supervisor restarted it.
        is_supervisor: Whether the child is itself a supervisor.
        urn: The running incarnation's actor urn (None when not running); a child
            supervisor is listed under this urn too.
    """

    name: str
    state: ChildState
    restarts: int
    is_supervisor: bool
    urn: str | None


@dataclass(frozen=True, slots=True)
class PublishedSupervisor:
    """A supervisor and its children, read without asking it.

    Attributes:
        urn: The supervisor's actor urn.
        name: Its name in logs and metrics (see `Supervisor`'s ``name``).
        phase: ``"starting"``, ``"running"``, ``"gave_up"`` or ``"stopped"``.
        restarts: Restarts it made.
        children: Its children, in start order.
        reason: Why it ended (for ``"gave_up"``), else None.
        updated_at: When this view was taken (epoch seconds).
    """

    urn: str
    name: str
    phase: SupervisorPhase
    restarts: int
    children: tuple[PublishedChild, ...]
    reason: str | None
    updated_at: float

    @property
    def healthy(self) -> bool:
        """Started and not given up: every child is running or being restarted."""
        return self.phase == "running"


class Publisher(Protocol):
    """What a live supervisor offers the readers here (any thread may call it)."""

    def published(self) -> PublishedSupervisor:
        """The supervisor's state now, read without its thread's help."""
        ...


_lock = threading.Lock()
_live: dict[str, Publisher] = {}  # urn -> supervisor: one entry per running supervisor
_ended: collections.OrderedDict[str, PublishedSupervisor] = collections.OrderedDict()


def publish(urn: str, supervisor: Publisher) -> None:
    """Lists a supervisor that has begun to start."""
    with _lock:
        _live[urn] = supervisor


def withdraw(urn: str, last: PublishedSupervisor, *, root: bool) -> None:
    """Takes an exited supervisor off the list; keeps `last` if it was a root and gave up.

    A child supervisor that gave up is its parent's crashed child: the parent's view shows it.
    """
    with _lock:
        _live.pop(urn, None)
        if root and last.phase == "gave_up":
            _ended[urn] = last
            while len(_ended) > ENDED_KEPT:
                _ended.popitem(last=False)


def forget_ended() -> None:
    """Forgets the supervisors that gave up (say, once a new tree replaced them)."""
    with _lock:
        _ended.clear()


def supervisors() -> list[PublishedSupervisor]:
    """Every listed supervisor: the live ones (read now), then those that gave up."""
    with _lock:
        live, ended = list(_live.values()), list(_ended.values())
    return [supervisor.published() for supervisor in live] + ended


def roots(listed: Iterable[PublishedSupervisor] | None = None) -> list[PublishedSupervisor]:
    """The supervisors that are nobody's child: the roots of the trees."""
    everything = supervisors() if listed is None else list(listed)
    children = {child.urn for supervisor in everything for child in supervisor.children if child.urn is not None}
    return [supervisor for supervisor in everything if supervisor.urn not in children]


class _TreeCollector:
    """Children by state and health, per supervisor name, read from the views at scrape time."""

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        children = GaugeMetricFamily(
            "zixir_supervisor_children",
            "Children of supervisors by state (running, starting, restarting, stopped)",
            labels=("supervisor", "state"),
        )
        healthy = GaugeMetricFamily(
            "zixir_supervisor_healthy",
            "1 while every supervisor of that name is running, 0 while one is starting or gave up",
            labels=("supervisor",),
        )
        counts: dict[tuple[str, str], int] = {}
        health: dict[str, int] = {}
        limit = _counters.max_series()
        for supervisor in supervisors():
            name = supervisor.name if supervisor.name in health or len(health) < limit else _counters.OVERFLOW_LABEL
            health[name] = min(health.get(name, 1), int(supervisor.healthy))
            for state in ("running", "starting", "restarting", "stopped"):
                counts.setdefault((name, state), 0)
            for child in supervisor.children:
                counts[(name, child.state)] += 1
        for (name, state), count in counts.items():
            children.add_metric((name, state), count)
        for name, value in health.items():
            healthy.add_metric((name,), value)
        yield children
        yield healthy


_counters.register_collector(_TreeCollector())
