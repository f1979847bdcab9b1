"""Actors and supervision trees on pykka."""

from __future__ import annotations

from zixir.actors.actor import Actor
from zixir.actors.dynamic import DynamicSupervisor
from zixir.actors.handle import Handle, ensure_started, handle
from zixir.actors.messages import Down, ExitReason
from zixir.actors.records import ChildCounts, ChildInfo, SupervisorStatistics
from zixir.actors.ref import ActorRef, Future
from zixir.actors.registry import whereis
from zixir.actors.spec import ChildSpec, RestartBackoff
from zixir.actors.supervisor import Supervisor
from zixir.actors.timers import Timer, send_after, send_interval

__all__ = [
    "Actor",
    "ActorRef",
    "ChildCounts",
    "ChildInfo",
    "ChildSpec",
    "Down",
    "DynamicSupervisor",
    "ExitReason",
    "Future",
    "Handle",
    "RestartBackoff",
    "Supervisor",
    "SupervisorStatistics",
    "Timer",
    "ensure_started",
    "handle",
    "send_after",
    "send_interval",
    "whereis",
]
