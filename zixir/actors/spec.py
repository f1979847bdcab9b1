"""What a supervisor needs to know to start, restart and stop a child.

`ChildSpec` names the child and its class (and, for a child placed on Ray, where it
runs); `spawn` starts one incarnation of it, the way every starter does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from zixir import _validate
from zixir.actors.actor import Actor
from zixir.errors import ArgumentTypeError, InvalidArgumentError

if TYPE_CHECKING:
    import pykka

    from zixir.actors.messages import ExitReason
    from zixir.actors.ref import ActorRef
    from zixir.ray.placement import RayPlacement

__all__ = ["START_GRACE", "ChildSpec", "RestartType", "spawn", "start_limit"]

#: permanent: always restarted; transient: after a crash only; temporary: never.
RestartType = Literal["permanent", "transient", "temporary"]
_RESTART_TYPES = ("permanent", "transient", "temporary")
_DEFAULT = object()
#: Seconds a placed child's starter waits beyond its start_timeout: the child's stand-in
#: enforces start_timeout on the Ray actor itself (and says why it ran out), and this
#: margin lets that answer arrive first. It only matters when Ray itself stops answering.
START_GRACE = 5.0


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
        placement: Run the child as a Ray actor with these resources
            (`zixir.ray.RayPlacement`) instead of in a thread here; None (the default)
            keeps it local. Calls, handles and supervision do not change; see
            docs/scaling.md. Needs ``zixir.ray.connect()`` before the child starts.

    Raises:
        InvalidArgumentError: an empty name, an unknown restart type, a shutdown or
            start_timeout that is negative, NaN or infinite, or a placement for a
            `Supervisor` or an actor class that traps exits (a ValueError).
        ArgumentTypeError: a name that is not a str, `actor_class` not a `zixir.Actor`
            subclass, `args` not a tuple, `kwargs` not a mapping, `shutdown` or
            `start_timeout` not a number, `placement` not a RayPlacement (a TypeError).
    """

    name: str
    actor_class: type[Actor]
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    restart: RestartType
    shutdown: float | None
    start_timeout: float | None
    placement: RayPlacement | None

    def __init__(
        self,
        name: str,
        actor_class: type[Actor],
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        restart: RestartType = "permanent",
        shutdown: float | Any | None = _DEFAULT,
        start_timeout: float | Any | None = _DEFAULT,
        placement: RayPlacement | None = None,
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
        if placement is not None:
            _check_placement(name, actor_class, placement)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "actor_class", actor_class)
        object.__setattr__(self, "args", tuple(args))
        object.__setattr__(self, "kwargs", MappingProxyType(dict(kwargs or {})))
        object.__setattr__(self, "restart", restart)
        object.__setattr__(self, "shutdown", shutdown)
        object.__setattr__(self, "start_timeout", start_timeout)
        object.__setattr__(self, "placement", placement)

    def __repr__(self) -> str:
        placed = "" if self.placement is None else f", placement={self.placement!r}"
        return (
            f"ChildSpec({self.name!r}, {self.actor_class.__name__}, restart={self.restart!r}, "
            f"shutdown={self.shutdown!r}, start_timeout={self.start_timeout!r}{placed})"
        )


def spawn(
    spec: ChildSpec, *, watcher: pykka.ActorRef[Any] | None = None, reserve: bool = False, wait: bool = True
) -> tuple[ActorRef[Any], ExitReason | None]:
    """Starts one incarnation of `spec` through `zixir.Actor._spawn`: its class, or for a
    placed child its stand-in (`zixir.ray.child.RayChild`), which runs it on Ray.

    Args:
        spec: The child.
        watcher: As for `Actor._spawn` (the supervisor).
        reserve: As for `Actor._spawn` (a child started by name, with no supervisor).
        wait: As for `Actor._spawn`; the wait is bounded by `start_limit`.

    Returns:
        What `Actor._spawn` returns.
    """
    actor_class: type[Actor] = spec.actor_class
    args: tuple[Any, ...] = spec.args
    kwargs: Mapping[str, Any] | None = spec.kwargs
    if spec.placement is not None:
        from zixir.ray.child import RayChild

        actor_class, args, kwargs = RayChild, (spec,), None
    return actor_class._spawn(
        args, kwargs, name=spec.name, reserve=reserve, watcher=watcher, wait=wait, timeout=start_limit(spec)
    )


def start_limit(spec: ChildSpec) -> float | None:
    """Seconds a start of `spec` is waited for: its start_timeout, plus `START_GRACE` for
    a placed child (whose stand-in enforces start_timeout itself)."""
    if spec.start_timeout is None or spec.placement is None:
        return spec.start_timeout
    return spec.start_timeout + START_GRACE


def _check_placement(name: str, actor_class: type[Actor], placement: object) -> None:
    from zixir.actors.supervisor import Supervisor
    from zixir.ray.placement import RayPlacement

    if not isinstance(placement, RayPlacement):
        raise ArgumentTypeError(
            f"ChildSpec {name!r}: placement must be a zixir.ray.RayPlacement or None, got {placement!r}", "placement"
        )
    if issubclass(actor_class, Supervisor):
        raise InvalidArgumentError(
            f"ChildSpec {name!r}: a supervisor cannot be placed on Ray (subtrees stay local); "
            "give the placement to the ChildSpecs of its workers instead",
            "placement",
        )
    if actor_class.mailbox_size is not None:
        raise InvalidArgumentError(
            f"ChildSpec {name!r}: {actor_class.__name__} has a bounded mailbox (mailbox_size="
            f"{actor_class.mailbox_size}), which a child placed on Ray does not have (its messages wait in "
            "Ray's queue); keep it local, or set mailbox_size = None",
            "placement",
        )
    if actor_class.trap_exits:
        raise InvalidArgumentError(
            f"ChildSpec {name!r}: {actor_class.__name__} traps exits, which a child placed on Ray cannot "
            "(links reach its stand-in in this process, and refs do not travel to Ray); "
            "keep it local, or set trap_exits = False",
            "placement",
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
