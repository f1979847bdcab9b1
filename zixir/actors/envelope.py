"""Zixir's envelope: what every message sent to a `zixir.Actor` travels in.

An envelope is a plain tuple, ``(message, reply_to, context)``: the message, the future
that receives the answer of an ask (None for a tell), and the sender's trace context
(`zixir.tracing`; None outside any span). `zixir.actors.ref.ActorRef`'s ``tell`` and
``ask`` build it, and every other send path (proxies, ``defer()``, ``stop()``, system
messages, timers) goes through them, so whatever travels beside a message is set in one
place. The actor loop (`zixir.actors._pykka`) takes it apart in one step.

A tuple because this is the hottest path in the library: building one costs about a
quarter of a slotted class instance, and unpacking it is cheaper than reading three
attributes, which is a third of what a tell costs the sender.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import pykka

    from zixir.tracing._context import SpanContext

__all__ = ["Envelope"]

#: ``(message, reply_to, context)``: what is sent; the future to answer (an ask) or None
#: (a tell); the sender's current span (a `zixir.tracing.SpanContext`), under which the
#: receiver handles the message, or None when the sender had no span.
Envelope: TypeAlias = "tuple[Any, pykka.Future[Any] | None, SpanContext | None]"
