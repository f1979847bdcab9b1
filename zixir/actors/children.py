"""A supervisor's children one by one: their records, and starting, stopping, abandoning each.

The supervisor's own start waits for each child (bounded by the child's start timeout);
every later start and restart concludes by message, so the supervisor keeps handling its
mailbox while a child's ``on_start`` runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pykka
from loguru import logger

from zixir._counters import counter
from zixir.actors import registry
from zixir.actors._pykka import DEFER_REPLY
from zixir.actors.actor import Actor, abandon_start, start_timed_out
from zixir.actors.messages import ExitReason, _StartTimedOut
from zixir.actors.ref import ActorRef
from zixir.actors.spec import ChildSpec, spawn, start_limit
from zixir.actors.timers import Timer, send_after
from zixir.errors import ChildStartError, UnknownChildError
from zixir.observability import events

__all__ = ["ChildOwner", "ChildRecord", "start_error"]

# Labelled by names the code declares (supervisor and spec names), never by instance.
_ABANDONED = counter(
    "zixir_supervisor_abandoned", "Children abandoned (did not stop, or hung)", ("supervisor", "child")
)


@dataclass(eq=False)
class ChildRecord:
    """A child's mutable record, touched only in the supervisor's thread."""

    spec: ChildSpec
    ref: ActorRef[Any] | None = None
    restarts: int = 0
    attempt: int = 0  # consecutive restarts, for the backoff
    started_at: float = 0.0
    last_crash: ExitReason | None = None
    last_crash_at: float | None = None
    waiting: bool = False  # a restart is scheduled
    timer: Timer | None = field(default=None, repr=False)
    starting: ActorRef[Any] | None = None  # an incarnation in on_start, not waited for
    start_timer: Timer | None = field(default=None, repr=False)
    replies: list[pykka.Future[Any]] = field(default_factory=list, repr=False)  # callers of that start
    kept: bool = True  # False until a start_child's first start succeeds: failing drops the spec
    restarting: bool = False  # the start in flight is a restart by the supervisor's strategy


class ChildOwner(Actor):
    """The per-child half of `zixir.Supervisor`: starts, stops and abandons its children.

    Every method runs in the supervisor's own thread. `zixir.Supervisor` adds the
    strategies, the restart intensity and the public API.
    """

    def __init__(self) -> None:
        super().__init__()
        self._given_name: str | None = None
        self._clock: Any = time.monotonic
        self._children: list[ChildRecord] = []
        self._abandoned = 0
        self._stopping = False
        self._deferred: ChildRecord | None = None  # the start whose caller's future comes next
        self._settle_waiters: list[pykka.Future[Any]] = []  # callers of `settled`
        self._settling = False  # the call returning DEFER_REPLY is a `settled`

    def _start(self, child: ChildRecord) -> ExitReason | None:
        """Starts `child`, waiting up to its start timeout for on_start; returns the failure."""
        spec = child.spec
        try:
            ref, failure = spawn(spec, watcher=self.actor_ref)
        except Exception as exc:
            return ExitReason.crash(exc)
        if failure is not None:
            if ref.exit_reason is None:  # still in on_start (or in on_exit after failing it)
                self._abandon(spec, ref, str(failure))
            return failure
        child.ref, child.started_at, child.kept = ref, self._clock(), True
        return None

    def _start_async(self, child: ChildRecord) -> Any:
        """Starts `child` for a caller of the proxy: returns `DEFER_REPLY`, and the caller is
        answered once the start concluded (see `_begin_start` and `_defer_reply`).

        Raises:
            ChildStartError: the class's ``__init__`` raised.
        """
        try:
            self._begin_start(child)
        except Exception as exc:
            if not child.kept:
                self._remove(child)
            raise start_error(child.spec.name, ExitReason.crash(exc)) from exc
        self._deferred = child
        return DEFER_REPLY

    def _begin_start(self, child: ChildRecord) -> None:
        """Starts `child` without waiting for its on_start: its `_Started` or `Down` (or the
        start timer's `_StartTimedOut`) arrives as a message.

        Raises:
            Exception: whatever the class's ``__init__`` raised.
        """
        spec = child.spec
        ref, _ = spawn(spec, watcher=self.actor_ref, wait=False)
        child.starting = ref
        limit = start_limit(spec)
        if limit is not None:
            child.start_timer = send_after(self.actor_ref, _StartTimedOut(ref), limit)

    def _defer_reply(self, reply_to: pykka.Future[Any]) -> None:
        child, self._deferred = self._deferred, None
        if self._settling:
            self._settling = False
            self._settle_waiters.append(reply_to)
        elif child is None:  # pragma: no cover - only _start_async and settled return DEFER_REPLY
            reply_to.set(None)
        elif child.starting is None:  # concluded already (cannot happen: conclusions are messages)
            reply_to.set(child.ref)
        else:
            child.replies.append(reply_to)

    def _start_succeeded(self, started: pykka.ActorRef[Any]) -> None:
        child = self._child_starting(started)
        if child is None or child.starting is None or self._stopping:
            return  # abandoned, or stopped, meanwhile
        ref = child.starting
        self._end_start(child)
        child.ref, child.started_at, child.kept = ref, self._clock(), True
        registry.assign(child.spec.name, ref)
        self._answer(child, ref)
        self._start_concluded(child, None)

    def _start_timed_out(self, ref: pykka.ActorRef[Any]) -> None:
        child = self._child_starting(ref)
        if child is None or self._stopping or not abandon_start(ref):
            return  # concluded meanwhile: its _Started or Down is on the way
        failure = start_timed_out(child.spec.name, child.spec.start_timeout)
        self._end_start(child)
        self._abandon(child.spec, ref, str(failure))
        self._start_failed(child, failure)

    def _start_failed(self, child: ChildRecord, failure: ExitReason) -> None:
        self._end_start(child)
        self._answer(child, start_error(child.spec.name, failure))
        if not child.kept and not child.restarting:
            self._remove(child)  # a start_child that failed: the spec is not kept
        self._start_concluded(child, failure)

    def _start_concluded(self, child: ChildRecord, failure: ExitReason | None) -> None:
        """Called once a start not waited for has succeeded (`failure` None) or failed."""

    def _end_start(self, child: ChildRecord) -> None:
        child.starting = None
        if child.start_timer is not None:
            child.start_timer.cancel()
            child.start_timer = None

    def _answer(self, child: ChildRecord, outcome: ActorRef[Any] | ChildStartError | None) -> None:
        """Answers the callers waiting for `child`'s start: its ref, or the error."""
        replies, child.replies = child.replies, []
        for future in replies:
            if isinstance(outcome, BaseException):
                future.set_exception(exc_info=(type(outcome), outcome, outcome.__traceback__))
            else:
                future.set(outcome)

    def _terminate(self, child: ChildRecord) -> None:
        """Stops `child` (running or starting), waiting up to its shutdown timeout; abandons it after that."""
        ref, child.ref = child.ref, None
        child.restarting = False
        if ref is None:
            ref = child.starting
            self._end_start(child)
        if ref is None:
            return
        ref.stop(block=False)
        if ref.wait_exit(child.spec.shutdown) is None:
            abandon_start(ref)  # if it is still in on_start, it stops as soon as that returns
            self._abandon(child.spec, ref, f"did not stop within {child.spec.shutdown} s")

    @property
    def _metric_name(self) -> str:
        """The name of this supervisor in metrics (see the `name` argument)."""
        return self._given_name or self._name or "root"

    def _child_label(self, spec: ChildSpec) -> str:
        """The `child` label of a child's metrics: its spec name (one series per spec)."""
        return spec.name

    def _abandon(self, spec: ChildSpec, ref: pykka.ActorRef[Any], why: str) -> None:
        # A Python thread cannot be killed: forget it, so nothing waits on it again.
        name = spec.name
        self._abandoned += 1
        _ABANDONED.labels(self._metric_name, self._child_label(spec)).inc()
        pykka.ActorRegistry.unregister(ref)
        registry.vacate(name, ref)
        logger.bind(event=events.SUPERVISOR_CHILD_ABANDONED, supervisor=self._metric_name, child=name, why=why).warning(
            "{}: abandoned child {!r} ({}): {}", self, name, ref, why
        )

    def _remove(self, child: ChildRecord) -> None:
        self._children.remove(child)
        registry.release(child.spec.name, child)
        self._answer(child, ChildStartError(f"child {child.spec.name!r} was removed while starting", child.spec.name))

    def _child_by_ref(self, ref: pykka.ActorRef[Any]) -> ChildRecord | None:
        return next((c for c in self._children if c.ref is ref), None)

    def _child_starting(self, ref: pykka.ActorRef[Any]) -> ChildRecord | None:
        return next((c for c in self._children if c.starting is ref), None)

    def _occupied(self) -> int:
        """Children running, starting, or waiting to restart."""
        return sum(c.ref is not None or c.starting is not None or c.waiting for c in self._children)

    # ---- settling -------------------------------------------------------------------------

    def settled(self) -> Any:
        """Answers once no child is starting, restarting or waiting to restart.

        Call it through the proxy (``sup.proxy().settled().get(timeout)``) to wait until a
        crash's restarts, or a start, have concluded; what `which_children` says next
        includes them. It waits out restart backoffs too, and answers at once when the
        supervisor stops.
        """
        if not self._busy():
            return None
        self._deferred = None
        self._settling = True
        return DEFER_REPLY

    def _busy(self) -> bool:
        """Whether a start, restart or scheduled restart has not concluded yet."""
        return any(c.starting is not None or c.restarting or c.waiting for c in self._children)

    def _receive(self, message: Any) -> Any:
        response = super()._receive(message)
        if self._settle_waiters and (self._stopping or not self._busy()):
            waiters, self._settle_waiters = self._settle_waiters, []
            for future in waiters:
                future.set(None)
        return response

    def _child_by_name(self, name: str) -> ChildRecord:
        for child in self._children:
            if child.spec.name == name:
                return child
        raise UnknownChildError(f"{self} has no child named {name!r}")


def start_error(name: str, failure: ExitReason) -> ChildStartError:
    """The ChildStartError for `name`'s failed start (a timed-out start's own error)."""
    if isinstance(failure.exception, ChildStartError):
        return failure.exception
    return ChildStartError(f"child {name!r} failed to start: {failure}", name)
