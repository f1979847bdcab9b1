"""Read-only views of a supervisor's state: its children and its statistics.

Returned by `Supervisor.which_children`, `count_children` and `statistics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pykka

from zixir.actors.messages import ExitReason
from zixir.actors.spec import RestartType

__all__ = ["ChildCounts", "ChildInfo", "ChildState", "SupervisorStatistics"]

#: running: on_start returned and it has not exited; starting: in on_start (a dynamic start);
#: restarting: being restarted by the strategy, or waiting out a restart backoff;
#: stopped: terminated, or exited and not restarted (its spec is kept).
ChildState = Literal["running", "starting", "restarting", "stopped"]


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One child as its supervisor sees it.

    Attributes:
        name: The child's name.
        ref: The running incarnation, or None (terminated, or waiting to restart).
        alive: Whether that incarnation is running.
        restart: The child's restart type.
        is_supervisor: Whether the child is itself a supervisor.
        restarts: How many times it was restarted.
        last_crash: Why it last crashed, if it ever did.
        last_crash_at: When (the supervisor's clock), if it ever did.
        uptime: Seconds since its current incarnation started (0.0 when not running).
        state: ``"running"``, ``"starting"``, ``"restarting"`` or ``"stopped"``.
    """

    name: str
    ref: pykka.ActorRef[Any] | None
    alive: bool
    restart: RestartType
    is_supervisor: bool
    restarts: int
    last_crash: ExitReason | None
    last_crash_at: float | None
    uptime: float
    state: ChildState


@dataclass(frozen=True, slots=True)
class ChildCounts:
    """OTP's ``count_children``: specs held, children running, supervisors and workers."""

    specs: int
    active: int
    supervisors: int
    workers: int


@dataclass(frozen=True, slots=True)
class SupervisorStatistics:
    """A supervisor's life so far.

    Attributes:
        restarts: Restarts made (a strategy restarting several children counts once).
        abandoned: Children that did not stop within their shutdown timeout, or did not
            answer a health check: their threads could not be killed and may still run.
        uptime: Seconds since the supervisor started.
        children: Every child, in start order.
    """

    restarts: int
    abandoned: int
    uptime: float
    children: tuple[ChildInfo, ...]
