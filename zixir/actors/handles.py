"""Stable handles and idempotent start-up: reach an actor by name across its restarts.

`handle(name)` resolves the current incarnation on every call; `ensure_started(spec)`
returns the running actor of a name or starts it, once, however many threads race.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pykka
from loguru import logger

from zixir.actors import registry
from zixir.actors.ref import ActorRef
from zixir.actors.spec import ChildSpec, spawn
from zixir.observability import events

if TYPE_CHECKING:
    from zixir.resilience import CircuitBreaker

__all__ = ["Handle", "ensure_started", "handle"]

_start_lock = threading.Lock()


class Handle:
    """Reaches whichever incarnation of a named actor is running now.

    Every `tell`, `ask`, `call` and `proxy` looks the name up again, waiting up to
    `timeout` seconds while a restart is in progress, so callers never hold a dead ref.
    With a `breaker`, `tell`, `ask` and `call` go through it: an actor that keeps failing
    (or is gone) makes callers fail fast with CircuitOpenError.

    Args:
        name: The actor's (or child's) name.
        timeout: Seconds to wait for a running incarnation.
        breaker: A circuit breaker guarding every call through this handle.
    """

    __slots__ = ("breaker", "name", "timeout")

    def __init__(self, name: str, timeout: float = 5.0, breaker: CircuitBreaker | None = None) -> None:
        self.name = name
        self.timeout = timeout
        self.breaker = breaker

    def __repr__(self) -> str:
        return f"Handle({self.name!r}, now {registry.whereis(self.name)})"

    @property
    def ref(self) -> pykka.ActorRef[Any]:
        """The running incarnation's ref.

        Raises:
            pykka.ActorDeadError: nothing ran under the name within `timeout`.
        """
        current = registry.whereis(self.name)
        if current is None:
            current = registry.wait_for(self.name, self.timeout)
        if current is None:
            raise pykka.ActorDeadError(f"no actor named {self.name!r} was running within {self.timeout} s")
        return current

    def tell(self, message: Any) -> None:
        """Tells the current incarnation `message`."""
        if self.breaker is None:  # no closure, no extra call: a handle costs a name lookup
            self.ref.tell(message)
        else:
            self.breaker.call(lambda: self.ref.tell(message))

    def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        """Asks the current incarnation and waits for the answer (`pykka.ActorRef.ask`)."""
        if self.breaker is None:
            return self.ref.ask(message, timeout=timeout)
        return self.breaker.call(lambda: self.ref.ask(message, timeout=timeout))

    def call(self, method: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Calls `method` on the current incarnation through its proxy and waits.

        Raises:
            CircuitOpenError: the handle's breaker is open.
        """
        return self._guarded(lambda: getattr(self.ref.proxy(), method)(*args, **kwargs).get(timeout=timeout))

    def _guarded(self, fn: Any) -> Any:
        return fn() if self.breaker is None else self.breaker.call(fn)

    def proxy(self) -> pykka.ActorProxy[Any]:
        """A proxy for the current incarnation (look it up again after a restart)."""
        return self.ref.proxy()


def handle(name: str, timeout: float = 5.0, breaker: CircuitBreaker | None = None) -> Handle:
    """A stable `Handle` for the actor named `name`, optionally guarded by `breaker`."""
    return Handle(name, timeout, breaker)


def ensure_started(spec: ChildSpec, supervisor: pykka.ActorRef[Any] | None = None) -> ActorRef[Any]:
    """Returns the running actor named ``spec.name``, starting it if none runs.

    Safe when many threads race: the actor starts once. Under `supervisor` (a
    `Supervisor` ref) it is started as that supervisor's child; otherwise unsupervised,
    holding its name until it exits.

    Raises:
        ChildStartError: it had to be started and its ``on_start`` failed, or did not
            return within ``spec.start_timeout`` (it is abandoned and the name is free).
    """
    with _start_lock:
        current = registry.whereis(spec.name)
        if current is not None:
            return current  # type: ignore[return-value]
        if supervisor is not None:
            ref: ActorRef[Any] = supervisor.proxy().start_child(spec).get()
            return ref
        return _start_named(spec)


def _start_named(spec: ChildSpec) -> ActorRef[Any]:
    from zixir.errors import ChildStartError

    ref, failure = spawn(spec, reserve=True)
    if failure is not None:
        if isinstance(failure.exception, ChildStartError):
            logger.bind(event=events.ACTOR_START_ABANDONED, child=spec.name).warning(
                "{} abandoned: {}", ref, failure.exception
            )
            raise failure.exception  # timed out: the error says so
        raise ChildStartError(f"{spec.name!r} failed to start: {failure}", spec.name)
    return ref
