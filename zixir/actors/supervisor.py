"""`zixir.Supervisor`: OTP supervision on pykka - strategies, restart intensity, ordered shutdown.

A supervisor is an actor; it monitors its children, restarts them by their restart type
and its strategy, and gives up (crashing, so its own parent sees it) when they crash more
than `max_restarts` times within `max_seconds`.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast

import pykka
from loguru import logger

from zixir._counters import counter
from zixir._validate import number, optional_number, whole
from zixir.actors import registry, tree
from zixir.actors._pykka import stop_message
from zixir.actors.children import ChildOwner, ChildRecord, start_error
from zixir.actors.health import HealthCheck, HealthChecker
from zixir.actors.messages import Down, ExitReason, _Started, _StartTimedOut
from zixir.actors.records import ChildCounts, ChildInfo, ChildState, SupervisorStatistics
from zixir.actors.ref import ActorRef
from zixir.actors.spec import ChildSpec
from zixir.actors.timers import send_after
from zixir.errors import (
    ArgumentTypeError,
    ChildStartError,
    DuplicateNameError,
    InvalidArgumentError,
    RestartIntensityError,
)
from zixir.observability import events

# Labelled by names the code declares (supervisor and spec names), never by instance.
if TYPE_CHECKING:
    from zixir.actors.restart_backoff import RestartBackoff

_RESTARTS = counter(
    "zixir_supervisor_restarts", "Restarts made by supervisors, by supervisor and child spec", ("supervisor", "child")
)
_GIVE_UPS = counter("zixir_supervisor_give_ups", "Supervisors that exceeded their restart intensity", ("supervisor",))

__all__ = ["Strategy", "Supervisor"]

#: one_for_one: restart the child; one_for_all: restart every child; rest_for_one: the
#: child and those started after it.
Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
_STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")


class _RestartDue(NamedTuple):
    """Told to a supervisor by its backoff timer: restart these children now."""

    names: tuple[str, ...]


class _RestartFailed(NamedTuple):
    """Told by a supervisor to itself: a restarting child's class raised in ``__init__``.

    A message, not a call: the failure counts against the restart intensity, and giving up
    must crash the supervisor even when the restart began inside an asked call.
    """

    child: ChildRecord
    failure: ExitReason
    restarts: int  # the child's restart count then: a later restart ignores this message


class Supervisor(ChildOwner):
    """Starts children in order, restarts them when they exit, stops them in reverse order.

    Start one with `Supervisor.start(...)`, which returns once every child's ``on_start``
    has run (OTP's ``start_link``) and raises ChildStartError if one failed or did not
    return within its ``ChildSpec.start_timeout``. Children added later (`start_child`,
    `restart_child`) start without blocking the supervisor's mailbox.

    Args:
        children: The children, started in this order.
        strategy: ``"one_for_one"``, ``"one_for_all"`` or ``"rest_for_one"``.
        max_restarts: Restarts allowed within `max_seconds`; one more and the supervisor
            stops its children and crashes (RestartIntensityError).
        max_seconds: The window for `max_restarts`.
        backoff: Delay between restarts of the same child; None restarts at once.
        health_check_interval: Seconds between pings of every child; a child that does not
            answer within `health_check_timeout` is abandoned and restarted. None: off.
        health_check_timeout: Seconds a child has to answer a ping.
        clock: Monotonic clock (seconds), injectable for tests.
        name: The supervisor's name in logs and metrics labels. By default its child
            name in a tree, or ``"root"`` for a supervisor started on its own. (It does
            not register the supervisor for `zixir.whereis`; a ChildSpec name does.)

    Raises:
        InvalidArgumentError: an unknown strategy, or a limit that is negative, zero
            where it must be positive, NaN or infinite (a ValueError).
        ArgumentTypeError: a limit that is not a number, a child that is not a
            ChildSpec, a clock that is not callable (a TypeError).
        DuplicateNameError: two children with one name.
    """

    def __init__(
        self,
        children: Iterable[ChildSpec] = (),
        strategy: Strategy = "one_for_one",
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        backoff: RestartBackoff | None = None,
        health_check_interval: float | None = None,
        health_check_timeout: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        name: str | None = None,
    ) -> None:
        super().__init__()
        if name is not None and not isinstance(name, str):
            raise ArgumentTypeError(f"name must be a str or None, got {name!r}", "name")
        self._given_name = name
        if strategy not in _STRATEGIES:
            raise InvalidArgumentError(
                f"strategy must be one of {', '.join(_STRATEGIES)}, got {strategy!r}", "strategy"
            )
        max_restarts = whole("max_restarts", max_restarts, at_least=0)
        number("max_seconds", max_seconds, above=0.0)  # kept as given: messages show it
        health_check_interval = optional_number("health_check_interval", health_check_interval, above=0.0)
        health_check_timeout = number("health_check_timeout", health_check_timeout, above=0.0)
        if backoff is not None and not _is_restart_backoff(backoff):
            raise ArgumentTypeError(f"backoff must be a RestartBackoff or None, got {backoff!r}", "backoff")
        if not callable(clock):
            raise ArgumentTypeError(f"clock must be a callable returning seconds, got {clock!r}", "clock")
        if isinstance(children, (str, bytes, ChildSpec)):
            raise ArgumentTypeError(f"children must be an iterable of ChildSpec objects, got {children!r}", "children")
        specs = list(children)
        names = [spec.name for spec in specs if isinstance(spec, ChildSpec)]
        for spec in specs:
            if not isinstance(spec, ChildSpec):
                raise ArgumentTypeError(f"children must be ChildSpec objects, got {spec!r}", "children")
            if names.count(spec.name) > 1:
                raise DuplicateNameError(f"two children are named {spec.name!r}; child names are unique per process")
        self._specs = specs
        self._strategy = strategy
        self._max_restarts = max_restarts
        self._max_seconds = max_seconds
        self._backoff = backoff
        self._clock = clock
        self._restart_times: collections.deque[float] = collections.deque()
        # Restart groups in flight: each starts in order, a child once the one before it started.
        self._chains: list[list[ChildRecord]] = []
        self._restarts = 0
        self._started_at = clock()
        self._phase: tree.SupervisorPhase = "starting"
        self._gave_up_because: str | None = None
        self._health = (
            HealthChecker(health_check_interval, health_check_timeout, clock)
            if health_check_interval is not None
            else None
        )

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> ActorRef[Any]:
        """Starts the supervisor and its children; returns once all have started.

        Raises:
            ChildStartError: a child's ``on_start`` failed, or did not return within its
                start timeout (the child is abandoned); the started ones were stopped.
            DuplicateNameError: a child's name is taken in this process.
        """
        ref, failure = cls._spawn(args, kwargs)
        if failure is not None and failure.abnormal:
            error = failure.exception
            raise (
                error
                if isinstance(error, (ChildStartError, DuplicateNameError))
                else ChildStartError(f"{cls.__name__} failed to start: {failure}", "?")
            )
        return ref

    # ---- lifecycle --------------------------------------------------------------------

    def on_start(self) -> None:
        tree.publish(self.actor_ref.actor_urn, self)
        for spec in self._specs:
            child = ChildRecord(spec)
            registry.reserve(spec.name, child)
            self._children.append(child)
        for child in self._children:
            failure = self._start(child)
            if failure is not None:
                error = start_error(child.spec.name, failure)
                raise ChildStartError(
                    f"{error}; the children started before it were stopped", child.spec.name
                ) from failure.exception
        if self._health is not None:
            self._health.start(self.actor_ref)
        self._phase = "running"
        logger.bind(event=events.SUPERVISOR_STARTED, supervisor=self._metric_name, children=len(self._children)).debug(
            "{} started {} children", self, len(self._children)
        )

    def on_stop(self) -> None:
        """Stops the children in reverse start order, before `stop()` returns."""
        self._shutdown()

    def on_exit(self, reason: ExitReason) -> None:
        """Also stops the children when the supervisor itself crashed or gave up."""
        self._shutdown()
        if self._phase != "gave_up":
            self._phase = "stopped"
        tree.withdraw(self.actor_ref.actor_urn, self.published(), root=not self._supervised)

    def _shutdown(self) -> None:
        """Stops the children in reverse start order and frees their names (idempotent)."""
        self._stopping = True
        self._chains.clear()
        if self._health is not None:
            self._health.stop()
        for child in reversed(self._children):
            if child.timer is not None:
                child.timer.cancel()
            self._terminate(child)
        for child in self._children:
            self._answer(
                child, ChildStartError(f"{self} stopped while {child.spec.name!r} was starting", child.spec.name)
            )
            registry.release(child.spec.name, child)

    def on_down(self, down: Down) -> None:
        if self._stopping:
            return
        child = self._child_by_ref(down.ref)
        if child is None:
            starting = self._child_starting(down.ref)
            if starting is not None:  # its on_start failed
                self._start_failed(starting, down.reason)
            return  # else an incarnation this supervisor already stopped, or replaced
        child.ref = None
        self._handle_exit(child, down.reason)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Started):
            self._start_succeeded(message.ref)
            return None
        if isinstance(message, _StartTimedOut):
            self._start_timed_out(message.ref)
            return None
        if isinstance(message, _RestartDue):
            self._restart_now([c for c in self._children if c.spec.name in message.names and c.waiting])
            return None
        if isinstance(message, _RestartFailed):
            child = message.child
            if child.restarting and child.restarts == message.restarts and child in self._children:
                self._start_failed(child, message.failure)
            return None
        if isinstance(message, HealthCheck):
            return self._check_health()
        return super().on_receive(message)

    # ---- restarts -----------------------------------------------------------------------

    def _handle_exit(self, child: ChildRecord, reason: ExitReason) -> None:
        spec = child.spec
        logger.bind(
            event=events.SUPERVISOR_CHILD_EXITED,
            supervisor=self._metric_name,
            child=spec.name,
            reason=reason.kind,
            error_type=reason.error_type,
        ).debug("{}: child {!r} exited: {}", self, spec.name, reason.kind)
        if reason.abnormal:
            child.last_crash, child.last_crash_at = reason, self._clock()
        if spec.restart == "temporary":
            self._remove(child)
            return
        deliberate = reason.kind == "shutdown"  # stopped from outside: like terminate_child
        if deliberate or (spec.restart == "transient" and not reason.abnormal):
            return
        self._restart(child, reason)

    def _restart(self, child: ChildRecord, reason: ExitReason) -> None:
        """Counts a restart against the intensity (giving up past it), then restarts the group."""
        now = self._clock()
        self._restart_times.append(now)
        while self._restart_times and self._restart_times[0] <= now - self._max_seconds:
            self._restart_times.popleft()
        if len(self._restart_times) > self._max_restarts:
            self._give_up(child, reason)
        self._restarts += 1
        _RESTARTS.labels(self._metric_name, self._child_label(child.spec)).inc()
        group = self._restart_group(child)
        if self._backoff is not None and now - child.started_at >= self._backoff.reset_after:
            child.attempt = 0
        delay = self._backoff.delay(child.attempt) if self._backoff is not None else 0.0
        child.attempt += 1
        logger.bind(
            event=events.SUPERVISOR_CHILD_RESTARTED,
            supervisor=self._metric_name,
            child=child.spec.name,
            restarts=child.restarts + 1,
            reason=reason.kind,
            error_type=reason.error_type,
            delay=delay,
        ).warning(
            "{}: restarting {!r} in {} s after {} {}",
            self,
            child.spec.name,
            delay,
            reason.kind,
            reason.error_type or "",
        )
        if delay > 0:
            self._schedule(child, group, delay)
        else:
            self._restart_now(group)

    def _restart_group(self, child: ChildRecord) -> list[ChildRecord]:
        """Stops the children the strategy restarts with `child`; returns them in order."""
        index = self._children.index(child)
        group = {
            "one_for_one": [child],
            "one_for_all": list(self._children),
            "rest_for_one": self._children[index:],
        }[self._strategy]
        for other in reversed(group):
            if other is not child:
                self._terminate(other)
        for other in [c for c in group if c.spec.restart == "temporary" and c is not child]:
            self._remove(other)  # temporary children are never restarted
        return [c for c in group if c in self._children]

    def _schedule(self, child: ChildRecord, group: list[ChildRecord], delay: float) -> None:
        self._claim(group)
        for c in group:
            c.waiting = True
        due = _RestartDue(tuple(c.spec.name for c in group))
        child.timer = send_after(self.actor_ref, due, delay)

    def _restart_now(self, group: list[ChildRecord]) -> None:
        """Starts the group in order, each child once the one before it has started.

        The starts conclude by message (`_start_concluded`): the supervisor keeps answering
        while a child's ``on_start`` runs.
        """
        for c in group:
            c.waiting, c.timer, c.restarting = False, None, False
        members = [c for c in group if c.ref is None and c.starting is None and c in self._children]
        self._claim(members)
        if members:
            self._chains.append(members)
            self._advance(members)

    def _claim(self, members: list[ChildRecord]) -> None:
        """Takes `members` out of older restart chains: a newer restart replaces the older one."""
        for chain in self._chains:
            chain[:] = [c for c in chain if c not in members]
        self._chains = [chain for chain in self._chains if chain]

    def _advance(self, chain: list[ChildRecord]) -> None:
        """Begins the start of `chain`'s next child, unless one is in flight; drops a done chain."""
        while chain:
            head = chain[0]
            if head.restarting:
                return  # its start concludes by message
            if head.ref is not None or head not in self._children:
                chain.pop(0)
                continue
            head.restarts += 1
            head.restarting = True
            try:
                self._begin_start(head)
            except Exception as exc:
                self.actor_ref.tell(_RestartFailed(head, ExitReason.crash(exc), head.restarts))
            return
        self._chains.remove(chain)

    def _start_concluded(self, child: ChildRecord, failure: ExitReason | None) -> None:
        if not child.restarting:
            return  # a start for a caller: `_answer` told it
        child.restarting = False
        chain = next((chain for chain in self._chains if chain[0] is child), None)
        if chain is None:  # pragma: no cover - a restarting child always leads its chain
            return
        if failure is None:
            chain.pop(0)
            self._advance(chain)
            return
        # A failed restart is a crash, against the intensity; the strategy's group for
        # `child` holds the rest of its chain.
        self._chains.remove(chain)
        child.last_crash, child.last_crash_at = failure, self._clock()
        self._restart(child, failure)

    def _unqueue(self, child: ChildRecord) -> None:
        """Takes `child` out of the restart chains; the chain it led goes on with the next."""
        for chain in list(self._chains):
            if child in chain:
                chain.remove(child)
                self._advance(chain)

    def _busy(self) -> bool:
        return bool(self._chains) or super()._busy()

    def _give_up(self, child: ChildRecord, reason: ExitReason) -> None:
        self._stopping = True
        self._phase = "gave_up"
        self._gave_up_because = (
            f"more than {self._max_restarts} restarts within {self._max_seconds} s "
            f"(last: {child.spec.name!r}, {reason.kind}: {reason.error_type})"
        )
        _GIVE_UPS.labels(self._metric_name).inc()
        logger.bind(
            event=events.SUPERVISOR_GAVE_UP,
            supervisor=self._metric_name,
            child=child.spec.name,
            max_restarts=self._max_restarts,
            max_seconds=self._max_seconds,
            error_type=reason.error_type,
        ).error(
            "{} gives up: {} restarts within {} s (last: child {!r}, {} {})",
            self, self._max_restarts, self._max_seconds, child.spec.name, reason.kind, reason.error_type or "",
        )  # fmt: skip
        raise RestartIntensityError(
            f"{type(self).__name__} gave up: its children needed more than {self._max_restarts} "
            f"restarts within {self._max_seconds} s (last: {child.spec.name!r}, {reason})",
            self._max_restarts,
            self._max_seconds,
        )

    def _check_health(self) -> None:
        if self._health is None or self._stopping:
            return
        for ref in self._health.check([c.ref for c in self._children if c.ref is not None]):
            child = self._child_by_ref(ref)
            if child is not None:
                logger.bind(
                    event=events.SUPERVISOR_HEALTH_CHECK_MISSED,
                    supervisor=self._metric_name,
                    child=child.spec.name,
                    timeout=self._health.timeout,
                ).warning("{} did not answer a health check within {} s", ref, self._health.timeout)
                self._abandon_hung(child, ref)

    def _abandon_hung(self, child: ChildRecord, ref: pykka.ActorRef[Any]) -> None:
        child.ref = None
        ref.tell(stop_message())  # if it ever wakes up, it stops
        self._abandon(child.spec, ref, "did not answer a health check")
        reason = ExitReason("crash", "Unresponsive", "did not answer a health check")
        self._handle_exit(child, reason)

    # ---- public API (call through the proxy) -----------------------------------------------

    def start_child(self, spec: ChildSpec) -> ActorRef[Any]:
        """Adds and starts a child; the answer is its ref, once its ``on_start`` returned.

        Call it through the proxy. The supervisor does not wait for the child's
        ``on_start``: it answers other calls (and handles exits) meanwhile, and answers
        this one when the start has succeeded, failed or timed out.

        Raises:
            DuplicateNameError: the name is taken.
            ChildStartError: its ``on_start`` failed, or did not return within
                ``spec.start_timeout`` (the spec is not kept).
        """
        if not isinstance(spec, ChildSpec):
            raise ArgumentTypeError(f"start_child takes a ChildSpec, got {spec!r}", "spec")
        child = ChildRecord(spec, kept=False)
        registry.reserve(spec.name, child)
        self._children.append(child)
        return cast("ActorRef[Any]", self._start_async(child))

    def terminate_child(self, name: str) -> None:
        """Stops a child and keeps its spec (and its name) for `restart_child`."""
        child = self._child_by_name(name)
        if child.timer is not None:
            child.timer.cancel()
        child.waiting = False
        self._terminate(child)
        self._unqueue(child)
        self._answer(child, ChildStartError(f"child {name!r} was terminated while starting", name))
        if child.spec.restart == "temporary" or not child.kept:
            self._remove(child)

    def restart_child(self, name: str) -> ActorRef[Any]:
        """Starts a terminated child again; the answer is its ref, as for `start_child`.

        Raises:
            ValueError: the child is running (or starting).
            ChildStartError: its ``on_start`` failed, or did not return within its start
                timeout (the spec is kept).
        """
        child = self._child_by_name(name)
        self._check_stopped(child)
        return cast("ActorRef[Any]", self._start_async(child))

    def delete_child(self, name: str) -> None:
        """Forgets a terminated child's spec and frees its name.

        Raises:
            ValueError: the child is running.
        """
        child = self._child_by_name(name)
        self._check_stopped(child)
        self._remove(child)

    def published(self) -> tree.PublishedSupervisor:
        """This supervisor's state now, for `zixir.actors.tree`: callable from any thread.

        It reads the child records without the supervisor's thread (which may be busy), so a
        child changing state meanwhile may show its old state or its new one.
        """
        return tree.PublishedSupervisor(
            self.actor_ref.actor_urn,
            self._metric_name,
            self._phase,
            self._restarts,
            tuple(
                tree.PublishedChild(
                    c.spec.name,
                    self._state(c),
                    c.restarts,
                    issubclass(c.spec.actor_class, Supervisor),
                    None if (ref := c.ref) is None else ref.actor_urn,
                )
                for c in list(self._children)
            ),
            self._gave_up_because,
            time.time(),
        )

    def _check_stopped(self, child: ChildRecord) -> None:
        name = child.spec.name
        if child.ref is not None or child.starting is not None:
            raise ValueError(f"child {name!r} is running; terminate_child({name!r}) first")
        if self._state(child) == "restarting":
            raise ValueError(f"child {name!r} is restarting; terminate_child({name!r}) first")

    def which_children(self) -> list[ChildInfo]:
        """One record per child, in start order."""
        now = self._clock()
        return [
            ChildInfo(
                c.spec.name,
                c.ref,
                c.ref is not None and c.ref.is_alive(),
                c.spec.restart,
                issubclass(c.spec.actor_class, Supervisor),
                c.restarts,
                c.last_crash,
                c.last_crash_at,
                now - c.started_at if c.ref is not None else 0.0,
                self._state(c),
            )
            for c in self._children
        ]

    def _state(self, child: ChildRecord) -> ChildState:
        if child.waiting or child.restarting or any(child in chain for chain in self._chains):
            return "restarting"
        if child.starting is not None:
            return "starting"
        return "running" if child.ref is not None and child.ref.is_alive() else "stopped"

    def count_children(self) -> ChildCounts:
        """Specs held, children running, and how many are supervisors or workers."""
        supervisors = sum(issubclass(c.spec.actor_class, Supervisor) for c in self._children)
        active = sum(c.ref is not None and c.ref.is_alive() for c in self._children)
        return ChildCounts(len(self._children), active, supervisors, len(self._children) - supervisors)

    def statistics(self) -> SupervisorStatistics:
        """Restarts, abandoned children, uptime and every child's record."""
        return SupervisorStatistics(
            self._restarts, self._abandoned, self._clock() - self._started_at, tuple(self.which_children())
        )


def _is_restart_backoff(value: object) -> bool:
    # Imported here: a supervisor without a backoff never loads the schedule.
    from zixir.actors.restart_backoff import RestartBackoff

    return isinstance(value, RestartBackoff)
