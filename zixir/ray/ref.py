"""Refs of actors hosted by Ray actors: `RayChildRef`, what a placed child's callers hold, and
`HostedRef`, the ref such an actor has of itself in its Ray worker.

Both are `zixir.ActorRef`s: ``tell``, ``ask``, ``proxy()`` and ``stop()`` work as for a
local actor, and their messages go straight to the Ray actor from the caller's thread.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pykka

from zixir.actors._pykka import STOP_TYPE
from zixir.actors.messages import Down, _LinkedExit, _Ping
from zixir.actors.ref import ActorRef, Future
from zixir.ray import calls
from zixir.ray.protocol import Attributes, RemoteExit
from zixir.ray.proxy import RemoteProxy
from zixir.tracing import wire

if TYPE_CHECKING:
    from zixir.actors.actor import Actor
    from zixir.ray.placement import RayPlacement

__all__ = ["HostedRef", "RayChildRef", "RemoteRef"]

_current_context = wire.context_out


class RemoteRef(ActorRef[Any]):
    """An `ActorRef` whose messages go to a Ray actor hosting the actor.

    Args:
        actor: The local actor object the ref is made for (pykka's refs need one).
        actor_class: The hosted actor's class: its name in messages, its ``ask_timeout``.
    """

    def __init__(self, actor: Actor, actor_class: type[Actor]) -> None:
        super().__init__(actor)
        self.actor_class = actor_class
        self._ray_actor: Any = None
        self._attributes: Attributes = {}
        self._who = str(self)  # as messages name it
        self._thread: threading.Thread | None = None  # the handling thread, when in this process

    def __str__(self) -> str:
        return f"{self.actor_class.__name__} on Ray ({self.actor_urn})"

    @property
    def ray_actor(self) -> Any:
        """The Ray actor handle this incarnation runs in (None before it started)."""
        return self._ray_actor

    def tell(self, message: Any) -> None:
        """Sends `message` to the actor without waiting, as `pykka.ActorRef.tell`.

        If its handler raises, the actor crashes (its supervisor sees the crash).

        Raises:
            pykka.ActorDeadError: the actor is not running.
        """
        ray_actor = self._ray_actor
        if ray_actor is None or self.actor_stopped.is_set():
            raise pykka.ActorDeadError(f"{self} not found")
        context = _current_context()
        if context is None:
            ray_actor.tell.remote(message)
        else:
            calls.spans_later(ray_actor.tell_traced.remote(message, context))

    def ask(self, message: Any, *, block: bool = True, timeout: float | None = None) -> Any:
        """Sends `message` and waits for the answer, as `pykka.ActorRef.ask`.

        Without `timeout`, waits for the actor class's ``ask_timeout`` (None: forever).
        With ``block=False``, returns a `Future` at once. An exception in the handler is
        raised by ``get()`` (the exception itself when it pickles, else a `RemoteError`)
        and the actor lives on.
        """
        ray_actor = self._ray_actor
        if ray_actor is None or self.actor_stopped.is_set():
            future: Future[Any] = self._dead()
        else:
            context = _current_context()
            if context is None:
                object_ref = ray_actor.call.remote(message)
            else:
                object_ref = ray_actor.call_traced.remote(message, context)
            future = calls.RayFuture[Any]().bind(object_ref, self._who, self.actor_class.ask_timeout, self._thread)
        if block:
            return future.get(timeout=timeout)
        return future

    def invoke(self, path: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Future[Any]:
        """Calls the method at `path` (as ``ask(ProxyCall(...), block=False)``, cheaper to send).

        Returns:
            The call's future.
        """
        ray_actor = self._ray_actor
        if ray_actor is None or self.actor_stopped.is_set():
            return self._dead()
        context = _current_context()
        if context is None:
            object_ref = ray_actor.invoke.remote((path, args, kwargs))
        else:
            object_ref = ray_actor.invoke_traced.remote((path, args, kwargs), context)
        return calls.RayFuture[Any]().bind(object_ref, self._who, self.actor_class.ask_timeout, self._thread)

    def _dead(self) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            raise pykka.ActorDeadError(f"{self} not found")
        except pykka.ActorDeadError:
            future.set_exception()
        return future

    def proxy(self) -> RemoteProxy:
        """A proxy of the actor (its methods and attributes), as `pykka.ActorRef.proxy`.

        Raises:
            pykka.ActorDeadError: the actor is not running.
        """
        return RemoteProxy(actor_ref=self)

    def attributes(self) -> Attributes:
        """The actor's public attributes as its proxies see them."""
        return self._attributes

    def attribute(self, path: tuple[str, ...]) -> tuple[bool, bool] | None:
        """(callable, traversable) of the attribute at `path`, looked up again in the Ray
        actor if unknown (set since it started); None if it has none."""
        info = self._attributes.get(path)
        if info is None:
            self._attributes = self._fresh_attributes()
            info = self._attributes.get(path)
        return info

    def _fresh_attributes(self) -> Attributes:
        attributes: Attributes = calls.answer(
            self._ray_actor.attributes.remote(), self.actor_class.ask_timeout, self._who
        )
        return attributes


class RayChildRef(RemoteRef):
    """The ref of a child placed on Ray (`ChildSpec(placement=...)`): what `whereis`,
    handles and the supervisor hold.

    Its actor is the child's stand-in in this process (`zixir.ray.child.RayChild`), which
    the supervisor watches: stopping the ref (``ref.stop()``) stops the stand-in, which
    stops the Ray actor. Health-check pings go to the Ray actor's message queue.
    """

    def __init__(self, actor: Actor, actor_class: type[Actor], placement: RayPlacement) -> None:
        super().__init__(actor, actor_class)
        self.placement = placement

    def attach(self, ray_actor: Any, attributes: Attributes) -> None:
        """Points the ref at its started Ray actor (by the stand-in, before the ref is given out)."""
        self._ray_actor = ray_actor
        self._attributes = attributes

    def tell(self, message: Any) -> None:
        kind = type(message)
        if kind is STOP_TYPE or kind is RemoteExit or kind is Down or kind is _LinkedExit:
            super(RemoteRef, self).tell(message)  # for the stand-in
            return
        super().tell(message)

    def ask(self, message: Any, *, block: bool = True, timeout: float | None = None) -> Any:
        kind = type(message)
        if kind is STOP_TYPE:
            return super(RemoteRef, self).ask(message, block=block, timeout=timeout)  # the stand-in stops it
        if kind is _Ping and not self.actor_stopped.is_set():
            future: Future[Any] = Future()
            calls.settled_by(self._ray_actor.ping.remote(), future, calls.unwrap, self._who)
            return future.get(timeout=timeout) if block else future
        return super().ask(message, block=block, timeout=timeout)


class HostedRef(RemoteRef):
    """The ref an actor hosted by a Ray actor has of itself (``self.actor_ref``) in its worker.

    A message sent to it is queued at the Ray actor like any other, behind those already
    there; ``self.stop()`` stops the actor once the message it handles returns. Waiting
    for an answer from the actor's own thread raises DeadlockError.
    """

    def __init__(self, actor: Actor, ray_actor: Any, handler_thread: threading.Thread | None) -> None:
        super().__init__(actor, type(actor))
        self._ray_actor = ray_actor
        self._thread = handler_thread

    def set_attributes(self, attributes: Attributes) -> None:
        """Records the actor's attributes for its proxies (by the Ray actor, once it started)."""
        self._attributes = attributes
