"""Zixir's envelope: what every message sent to a `zixir.Actor` travels in.

Every send path (tell, ask, proxies, ``defer``, ``stop``, system messages) builds it with
the one constructor, `Envelope(message, reply_to)`, so whatever travels beside a message
is set in one place: the sender's trace context (`zixir.tracing`), read from its context
variable (one lookup; None outside any span).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zixir.tracing._context import CURRENT

if TYPE_CHECKING:
    import pykka

    from zixir.tracing._context import SpanContext

__all__ = ["Envelope"]

_current = CURRENT.get


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
        context: The sender's current span (a `zixir.tracing.SpanContext`), under which
            the receiver handles the message; None when the sender had no span.
    """

    # Slots, and no builder function around the constructor: a tell costs what pykka's does.
    __slots__ = ("context", "message", "reply_to")

    def __init__(self, message: Any, reply_to: pykka.Future[Any] | None = None) -> None:
        self.message = message
        self.reply_to = reply_to
        self.context: SpanContext | None = _current()

    def __repr__(self) -> str:
        return f"Envelope(message={self.message!r}, reply_to={self.reply_to!r}, context={self.context!r})"
