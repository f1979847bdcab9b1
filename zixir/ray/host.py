"""The Ray actor behind a child placed on Ray: it builds the user's actor in its Ray worker and
handles the actor's messages there, one at a time, as the actor's own thread would.

The user's actor runs no thread of its own: Ray's queue is its mailbox, and Ray's default
concurrency group (one thread) handles the messages in order. A second group runs one
long `watch` call, which answers when the actor has ended, so that its stand-in learns
of a crash without polling. Exceptions never leave a call as Ray errors: they travel
back as `Failure` records, so an asker gets the user's exception and the stand-in the
type name, message and traceback of a crash.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, cast

from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr

from zixir.actors._pykka import is_stop
from zixir.actors.messages import ExitKind, ExitReason, _Ping
from zixir.ray.protocol import Attributes, Exit, Failure, Started, Traced, failure_of
from zixir.ray.ref import HostedRef

if TYPE_CHECKING:
    from zixir.actors.actor import Actor
    from zixir.actors.ref import ActorRef

__all__ = ["WATCH_GROUP", "RayHost", "introspect", "remote_class"]

#: The Ray concurrency group of the `watch` and `until_killed` calls (two threads, beside
#: the default group's one).
WATCH_GROUP: Final = "zixir-watch"

_remote: Any = None


def remote_class() -> Any:
    """`RayHost` as a Ray actor class: Ray restarts and retries nothing (Zixir's supervisor
    owns the restart policy), and `watch` and `until_killed` have a concurrency group of
    their own, beside the one thread that handles the actor's messages."""
    global _remote
    if _remote is None:
        import ray

        _remote = ray.remote(concurrency_groups={WATCH_GROUP: 2}, max_restarts=0, max_task_retries=0)(RayHost)
    return _remote


class RayHost:
    """Hosts one incarnation of a child's actor in a Ray worker (a Ray actor class body).

    Args:
        actor_class: The child's `zixir.Actor` subclass.
        args: Its positional arguments.
        kwargs: Its keyword arguments.
        child: The child's name, for the notes on exceptions sent back.
    """

    def __init__(self, actor_class: type[Actor], args: tuple[Any, ...], kwargs: Mapping[str, Any], child: str) -> None:
        self._class = actor_class
        self._args = args
        self._kwargs = kwargs
        self._where = f"the Ray actor of child {child!r}"
        self._actor: Actor | None = None
        self._exit: Exit | None = None
        self._exited = threading.Event()

    # ---- calls, from the stand-in and the refs -------------------------------------------

    def ping(self) -> bool:
        """Answers once the calls queued before it are handled (placement, health checks)."""
        return True

    def start(self) -> Started | Failure:
        """Builds the actor and runs its ``on_start``; its attributes, or why it failed."""
        import ray

        actor_ref = ray.get_runtime_context().current_actor
        thread = threading.current_thread()
        try:
            actor = self._actor = _hosted(self._class, actor_ref, thread)(*self._args, **self._kwargs)
        except BaseException as error:
            failure = failure_of(error, self._where, keep=False)
            self._end(Exit("crash", failure))
            return failure
        try:
            actor.on_start()
        except BaseException as error:
            failure = failure_of(error, self._where, keep=False)
            self._end(Exit("crash", failure), ExitReason.crash(error))
            return failure
        attributes = introspect(actor)
        cast(HostedRef, actor.actor_ref).set_attributes(attributes)
        return Started(attributes)

    # One argument a call when untraced: Ray's cost grows with each argument it sends.

    def tell(self, message: Any) -> None:
        """Handles a told message; an exception crashes the actor."""
        if self._exit is None:  # else dropped, as a message left in a stopped actor's mailbox
            self._handle(message, told=True)

    def tell_traced(self, message: Any, context: tuple[str, str, bool]) -> Traced | None:
        """`tell`, in a span under the caller's `context`; the spans that ended come back."""
        return None if self._exit is not None else self._traced(message, context, told=True)

    def call(self, message: Any) -> Any:
        """Handles an asked message: its answer, or a `Failure` (the actor lives on unless
        its class has ``crash_on_ask_error``)."""
        return self._stopped() if self._exit is not None else self._handle(message, told=False)

    def call_traced(self, message: Any, context: tuple[str, str, bool]) -> Any:
        """`call`, in a span under the caller's `context`; the spans that ended come back."""
        return self._stopped() if self._exit is not None else self._traced(message, context, told=False)

    def invoke(self, call: tuple[Any, Any, dict[str, Any]]) -> Any:
        """Calls a method by its attribute path, with (path, args, kwargs) in plain
        containers (cheaper for Ray to send than pykka's `ProxyCall`); as `call`."""
        return self.call(_proxy_call(call))

    def invoke_traced(self, call: tuple[Any, Any, dict[str, Any]], context: tuple[str, str, bool]) -> Any:
        """`invoke`, in a span under the caller's `context`."""
        return self.call_traced(_proxy_call(call), context)

    def _stopped(self) -> Failure:
        import pykka

        error = pykka.ActorDeadError(f"{self._class.__name__} on Ray has stopped")
        return Failure(type(error).__qualname__, str(error), "", error)

    def attributes(self) -> Attributes:
        """The actor's public attributes now (for a proxy asked for one it does not know)."""
        return {} if self._actor is None else introspect(self._actor)

    def stop(self) -> Exit:
        """Stops the actor from outside (its stand-in stops): runs ``on_stop`` and ``on_exit``."""
        self._stop("shutdown")
        assert self._exit is not None
        return self._exit

    def until_killed(self) -> None:
        """Never answers: Ray fails the call when the Ray actor dies, which is how its stand-in
        learns that a kill took effect (in `WATCH_GROUP`)."""
        threading.Event().wait()

    def watch(self) -> Exit:
        """Answers once the actor has ended, however it ended (in `WATCH_GROUP`)."""
        self._exited.wait()
        assert self._exit is not None
        return self._exit

    # ---- handling ----------------------------------------------------------------------

    def _traced(self, message: Any, context: tuple[str, str, bool], *, told: bool) -> Traced:
        from zixir.tracing import wire
        from zixir.tracing._actors import receive_in_span
        from zixir.tracing._context import CURRENT

        token = wire.begin(context)
        try:
            parent = CURRENT.get()
            assert parent is not None
            answer = self._handle(
                message, told=told, receive=lambda m: receive_in_span(self._actor, parent, m, self._receive)
            )
        finally:
            spans = wire.end(token)
        return Traced(answer, spans)

    def _handle(self, message: Any, *, told: bool, receive: Callable[[Any], Any] | None = None) -> Any:
        actor = self._actor
        assert actor is not None
        if is_stop(message):
            self._stop("normal" if told else "shutdown")
            return True
        try:
            return (receive or self._receive)(message)
        except Exception as error:
            if told or actor.crash_on_ask_error:
                self._crash(error)
            return None if told else failure_of(error, self._where, keep=True)
        except BaseException as error:  # as locally: it stops this actor, as a crash
            self._crash(error)
            return None if told else failure_of(error, self._where, keep=False)

    def _receive(self, message: Any) -> Any:
        actor = self._actor
        kind = type(message)
        if kind is ProxyCall:
            return _resolve(actor, message.attr_path)(*message.args, **message.kwargs)
        if kind is ProxyGetAttr:
            return _resolve(actor, message.attr_path)
        if kind is ProxySetAttr:
            setattr(_resolve(actor, message.attr_path[:-1]), message.attr_path[-1], message.value)
            return None
        if kind is _Ping:
            return True
        assert actor is not None
        return actor.on_receive(message)

    # ---- ending ------------------------------------------------------------------------

    def _crash(self, error: BaseException) -> None:
        actor = self._actor
        assert actor is not None
        actor.actor_stopped.set()
        with contextlib.suppress(Exception):  # pykka's hook; a failure in it changes nothing
            actor.on_failure(type(error), error, error.__traceback__)
        self._end(Exit("crash", failure_of(error, self._where, keep=False)), ExitReason.crash(error))

    def _stop(self, kind: ExitKind) -> None:
        actor = self._actor
        if self._exit is not None or actor is None:
            return
        actor.actor_stopped.set()
        try:
            actor.on_stop()
        except Exception as error:  # as locally: on_stop failing is a crash
            self._end(Exit("crash", failure_of(error, self._where, keep=False)), ExitReason.crash(error))
            return
        self._end(Exit(kind), ExitReason(kind))

    def _end(self, outcome: Exit, reason: ExitReason | None = None) -> None:
        """Records how the actor ended and runs its ``on_exit`` (not after a failed ``__init__``)."""
        if self._actor is not None and reason is not None:
            with contextlib.suppress(BaseException):  # as locally: logged there, ignored here
                self._actor.on_exit(reason)
        self._exit = outcome
        self._exited.set()


def _hosted(actor_class: type[Actor], ray_actor: Any, thread: threading.Thread) -> type[Actor]:
    """`actor_class`, with the ref it makes of itself (Zixir's `_new_ref` hook) a `HostedRef`,
    so that ``self.actor_ref``, ``self.stop()`` and timers reach this Ray actor."""

    def _new_ref(self: Actor) -> ActorRef[Any]:
        return HostedRef(self, ray_actor, thread)

    namespace = {
        "_new_ref": _new_ref,
        "__module__": actor_class.__module__,
        "__qualname__": actor_class.__qualname__,
        "__doc__": actor_class.__doc__,
    }
    metaclass: Any = type(actor_class)
    return cast("type[Actor]", metaclass(actor_class.__name__, (actor_class,), namespace))


def _proxy_call(call: tuple[Any, Any, dict[str, Any]]) -> ProxyCall:
    path, args, kwargs = call
    return ProxyCall(attr_path=tuple(path), args=tuple(args), kwargs=kwargs)


def _resolve(root: Any, path: tuple[str, ...]) -> Any:
    value = root
    for name in path:
        value = getattr(value, name)
    return value


def introspect(root: object) -> Attributes:
    """The public attributes of `root` as pykka's proxies see them, traversables included.

    Read without running properties (their value is read when asked for).
    """
    found: Attributes = {}
    pending: list[tuple[str, ...]] = [(name,) for name in dir(root)]
    while pending:
        path = pending.pop()
        if path[-1].startswith("_"):
            continue
        try:
            value = inspect.getattr_static(_resolve(root, path[:-1]), path[-1])
        except AttributeError:
            continue
        traversable = (
            getattr(value, "_pykka_traversable", False) is True or getattr(value, "pykka_traversable", False) is True
        )
        found[path] = (
            isinstance(value, (classmethod, staticmethod)) or (callable(value) and not isinstance(value, property)),
            traversable,
        )
        if traversable:
            pending.extend((*path, name) for name in dir(value))
    return found
