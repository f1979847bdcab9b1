"""Actors and supervision trees on pykka.

Names load on first use (PEP 562): reaching `Supervisor` does not load `DynamicSupervisor`,
handles or the restart backoff.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zixir import _lazy

if TYPE_CHECKING:
    from zixir.actors.actor import Actor
    from zixir.actors.dynamic import DynamicSupervisor
    from zixir.actors.handles import Handle, ensure_started, handle
    from zixir.actors.messages import Down, ExitReason
    from zixir.actors.records import ChildCounts, ChildInfo, SupervisorStatistics
    from zixir.actors.ref import ActorRef, Future
    from zixir.actors.registry import whereis
    from zixir.actors.restart_backoff import RestartBackoff
    from zixir.actors.spec import ChildSpec
    from zixir.actors.supervisor import Supervisor
    from zixir.actors.timers import Timer, send_after, send_interval

_HOMES = {
    "Actor": "actor",
    "ActorRef": "ref",
    "ChildCounts": "records",
    "ChildInfo": "records",
    "ChildSpec": "spec",
    "Down": "messages",
    "DynamicSupervisor": "dynamic",
    "ExitReason": "messages",
    "Future": "ref",
    "Handle": "handles",
    "RestartBackoff": "restart_backoff",
    "Supervisor": "supervisor",
    "SupervisorStatistics": "records",
    "Timer": "timers",
    "ensure_started": "handles",
    "handle": "handles",
    "send_after": "timers",
    "send_interval": "timers",
    "whereis": "registry",
}

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

__getattr__, __dir__ = _lazy.attributes(globals(), _HOMES)
