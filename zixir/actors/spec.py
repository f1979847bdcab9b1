"""What a supervisor needs to know to start, restart and stop a child.

`ChildSpec` names the child and its class; `RestartBackoff` spaces out restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from zixir import _validate
from zixir.actors.actor import Actor
from zixir.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["ChildSpec", "RestartType"]

#: permanent: always restarted; transient: after a crash only; temporary: never.
RestartType = Literal["permanent", "transient", "temporary"]
_RESTART_TYPES = ("permanent", "transient", "temporary")
_DEFAULT = object()


@dataclass(frozen=True, slots=True, init=False)
class ChildSpec:
    """A child of a supervisor.

    Args:
        name: Unique in the process; `zixir.whereis(name)` finds the running child.
        actor_class: A `zixir.Actor` subclass (a `Supervisor` for a subtree).
        args: Positional arguments for the class.
        kwargs: Keyword arguments for the class.
        restart: ``"permanent"`` (always restarted), ``"transient"`` (restarted after a
            crash only) or ``"temporary"`` (never restarted).
        shutdown: Seconds to wait for the child to stop before abandoning it; None waits
            without limit. Defaults to 5.0 for workers and None for supervisors, as OTP.
        start_timeout: Seconds the child's ``on_start`` may take; past them the start
            fails with ChildStartError and the child is abandoned (it stops as soon as
            ``on_start`` returns). Defaults to 5.0 for workers; None for supervisors,
            whose own start is bounded by their children's start timeouts. None waits
            without limit: a child that never returns from ``on_start`` then hangs its
            supervisor's start and restarts.

    Raises:
        InvalidArgumentError: an empty name, an unknown restart type, or a shutdown or
            start_timeout that is negative, NaN or infinite (a ValueError).
        ArgumentTypeError: a name that is not a str, `actor_class` not a `zixir.Actor`
            subclass, `args` not a tuple, `kwargs` not a mapping, `shutdown` or
            `start_timeout` not a number (a TypeError).
    """

    name: str
    actor_class: type[Actor]
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    restart: RestartType
    shutdown: float | None
    start_timeout: float | None

    def __init__(
        self,
        name: str,
        actor_class: type[Actor],
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        restart: RestartType = "permanent",
        shutdown: float | Any | None = _DEFAULT,
        start_timeout: float | Any | None = _DEFAULT,
    ) -> None:
        if not isinstance(name, str):
            raise ArgumentTypeError(f"ChildSpec name must be a non-empty str, got {name!r}", "name")
        if not name:
            raise InvalidArgumentError(f"ChildSpec name must be a non-empty str, got {name!r}", "name")
        if not (isinstance(actor_class, type) and issubclass(actor_class, Actor)):
            raise ArgumentTypeError(
                f"ChildSpec {name!r}: actor_class must be a zixir.Actor subclass, got {actor_class!r}; "
                "subclass zixir.Actor instead of pykka.ThreadingActor so exits are reported",
                "actor_class",
            )
        if restart not in _RESTART_TYPES:
            raise InvalidArgumentError(
                f"ChildSpec {name!r}: restart must be one of {', '.join(_RESTART_TYPES)}, got {restart!r}",
                "restart",
            )
        if not isinstance(args, (tuple, list)):
            raise ArgumentTypeError(f"ChildSpec {name!r}: args must be a tuple, got {args!r}", "args")
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise ArgumentTypeError(f"ChildSpec {name!r}: kwargs must be a mapping, got {kwargs!r}", "kwargs")
        from zixir.actors.supervisor import Supervisor

        worker_default = None if issubclass(actor_class, Supervisor) else 5.0
        shutdown = _seconds(name, "shutdown", worker_default if shutdown is _DEFAULT else shutdown, at_least=0.0)
        if start_timeout is _DEFAULT:
            start_timeout = worker_default
        start_timeout = _seconds(name, "start_timeout", start_timeout, above=0.0)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "actor_class", actor_class)
        object.__setattr__(self, "args", tuple(args))
        object.__setattr__(self, "kwargs", MappingProxyType(dict(kwargs or {})))
        object.__setattr__(self, "restart", restart)
        object.__setattr__(self, "shutdown", shutdown)
        object.__setattr__(self, "start_timeout", start_timeout)

    def __repr__(self) -> str:
        return (
            f"ChildSpec({self.name!r}, {self.actor_class.__name__}, restart={self.restart!r}, "
            f"shutdown={self.shutdown!r}, start_timeout={self.start_timeout!r})"
        )


def _seconds(
    spec: str, argument: str, value: Any, *, at_least: float | None = None, above: float | None = None
) -> float | None:
    """`value` as float seconds, or None; a clear error naming the spec and `argument` otherwise."""
    if value is None:
        return None
    try:
        return float(_validate.number(argument, value, at_least=at_least, above=above))
    except (InvalidArgumentError, ArgumentTypeError) as exc:
        bound = f">= {at_least:g}" if at_least is not None else f"> {above:g}"
        raise type(exc)(
            f"ChildSpec {spec!r}: {argument} must be None or seconds {bound}, got {value!r}", argument
        ) from None
