"""Actors and supervision trees on pykka."""

from __future__ import annotations

from zixir.actors.actor import Actor
from zixir.actors.messages import Down, ExitReason
from zixir.actors.ref import ActorRef, Future
from zixir.actors.registry import whereis

__all__ = ["Actor", "ActorRef", "Down", "ExitReason", "Future", "whereis"]
