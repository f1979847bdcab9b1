"""Zixir's envelope: what every message sent to a `zixir.Actor` travels in.

One function, `envelope`, builds it for every send path (tell, ask, proxies, ``defer``,
system messages), so whatever an envelope carries besides the message is set in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pykka

__all__ = ["Envelope", "envelope"]


class Envelope:
    """A message on its way to an actor, with what travels beside it.

    The attribute names `message` and `reply_to` are the ones pykka's loop reads when it
    drains a stopped actor's mailbox (see `zixir.actors._pykka`).

    Attributes:
        message: The message.
        reply_to: The future to answer (an ask), or None (a tell).
        context: The sender's context carried to the receiver; None for now.
    """

    __slots__ = ("context", "message", "reply_to")  # slots: cheaper to build, like pykka's

    def __init__(self, message: Any, reply_to: pykka.Future[Any] | None, context: object | None) -> None:
        self.message = message
        self.reply_to = reply_to
        self.context = context

    def __repr__(self) -> str:
        return f"Envelope(message={self.message!r}, reply_to={self.reply_to!r}, context={self.context!r})"


def envelope(message: Any, reply_to: pykka.Future[Any] | None = None) -> Envelope:
    """Builds the envelope for `message`; every send to a `zixir.Actor` comes through here.

    Args:
        message: What is sent.
        reply_to: The future that receives the answer of an ask; None for a tell.
    """
    return Envelope(message, reply_to, None)
