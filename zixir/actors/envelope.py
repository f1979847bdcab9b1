"""Zixir's envelope: what every message sent to a `zixir.Actor` travels in.

Every send path (tell, ask, proxies, ``defer``, ``stop``, system messages) builds it with
the one constructor, `Envelope(message, reply_to)`, so whatever travels beside a message
is set in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pykka

__all__ = ["Envelope"]


class Envelope:
    """A message on its way to an actor, with what travels beside it.

    The attribute names `message` and `reply_to` are the ones pykka's loop reads when it
    drains a stopped actor's mailbox (see `zixir.actors._pykka`).

    Args:
        message: What is sent.
        reply_to: The future that receives the answer of an ask; None for a tell.

    Attributes:
        message: The message.
        reply_to: The future to answer (an ask), or None (a tell).
        context: The sender's context, carried to the receiver; None for now.
    """

    # Slots, and no builder function around the constructor: a tell costs what pykka's does.
    __slots__ = ("context", "message", "reply_to")

    def __init__(self, message: Any, reply_to: pykka.Future[Any] | None = None) -> None:
        self.message = message
        self.reply_to = reply_to
        self.context: object | None = None

    def __repr__(self) -> str:
        return f"Envelope(message={self.message!r}, reply_to={self.reply_to!r}, context={self.context!r})"
