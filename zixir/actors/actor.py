"""`zixir.Actor`: a pykka ThreadingActor that reports every exit and never takes others down.

Adds a cleanup hook that runs on every exit, crash reports to monitors, links and
supervisors, containment of BaseException, bounded mailboxes and default ask timeouts.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

import pykka
from loguru import logger
from pykka import ActorRegistry

from zixir._counters import counter
from zixir.actors import _metrics, registry
from zixir.actors._pykka import ActorBase, SystemHandler, current_actor
from zixir.actors.inbox import BoundedInbox
from zixir.actors.messages import Down, ExitReason, _LinkedExit, _Ping, _Started
from zixir.actors.ref import ActorRef, Future
from zixir.errors import ActorCrashedError, ChildStartError
from zixir.observability import events

_EXITS = counter("zixir_actor_exits", "Actor exits, by actor class and kind of exit", ("actor_class", "kind"))

if TYPE_CHECKING:
    from zixir.actors._pykka import Inbox

__all__ = ["Actor", "abandon_start", "current_actor_name"]

_NOPROC = ExitReason("crash", "ActorDeadError", "the actor was not running", None, None)


class Actor(ActorBase):
    """Base class for Zixir actors; a drop-in for `pykka.ThreadingActor`.

    Class attributes tune each actor class:

    Attributes:
        mailbox_size: Bound on queued user messages (None: unbounded). A `tell` to a full
            mailbox waits up to `mailbox_timeout`, then raises MailboxFullError.
        mailbox_timeout: Seconds a sender waits for room in a bounded mailbox.
        ask_timeout: Default seconds to wait for an answer (None: forever, as pykka).
        crash_on_ask_error: When true, an exception in an *asked* call crashes the actor
            (the caller still gets the exception); by default only told messages crash.
        trap_exits: When true, a linked actor's crash arrives in `on_linked_exit` instead
            of stopping this actor.
    """

    mailbox_size: ClassVar[int | None] = None
    mailbox_timeout: ClassVar[float] = 5.0
    ask_timeout: ClassVar[float | None] = None
    crash_on_ask_error: ClassVar[bool] = False
    trap_exits: ClassVar[bool] = False
    _system_handlers: ClassVar[dict[type, SystemHandler]] = {
        **ActorBase._system_handlers,
        Down: lambda actor, down: actor.on_down(down),
        _LinkedExit: lambda actor, signal: actor._on_linked_exit_signal(signal),
        _Ping: lambda actor, ping: True,  # answered by the loop itself: a hung actor does not answer
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._exit_reason: ExitReason | None = None
        self._exit_lock = threading.Lock()
        self._monitors: list[pykka.ActorRef[Any]] = []
        self._links: list[pykka.ActorRef[Any]] = []
        self._name: str | None = None
        self._release_name_on_exit = False  # started by name, outside any supervisor
        # Settles the race between on_start returning and its starter giving up on it.
        self._start_lock = threading.Lock()
        self._start_abandoned = False
        self._start_watcher: pykka.ActorRef[Any] | None = None  # told _Started, if set
        self._supervised = False  # started by a supervisor (a `watcher`), not as a root
        self._start_failure: ExitReason | None = None  # why on_start failed, once it did

    @property
    def actor_ref(self) -> ActorRef[Self]:
        """The actor's `zixir.ActorRef` (a `pykka.ActorRef`)."""
        return self._zixir_ref  # type: ignore[return-value]

    # ---- starting -----------------------------------------------------------------------

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> ActorRef[Self]:
        """Starts an actor, as `pykka.Actor.start`: registered, its thread running.

        Returns at once, before ``on_start`` has run (`Supervisor.start` waits for it).
        """
        ref, _ = cls._spawn(args, kwargs, wait=False)
        return ref

    @classmethod
    def _spawn(
        cls,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        reserve: bool = False,
        watcher: pykka.ActorRef[Any] | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> tuple[ActorRef[Self], ExitReason | None]:
        """The one start path: build, name, register, start the thread, wait for ``on_start``.

        Args:
            args: Positional arguments for the class.
            kwargs: Keyword arguments for the class.
            name: The name the actor answers to (`zixir.whereis`) once ``on_start`` returned.
            reserve: Take `name` for this actor, released when it exits (no supervisor
                holds it).
            watcher: An actor (a supervisor) that gets a `Down` when this one exits; when
                not waiting, it is also told when ``on_start`` has returned, and assigns
                `name` itself.
            wait: Wait for ``on_start``; without it the failure is never reported here.
            timeout: Seconds to wait for ``on_start`` (None: without limit). Past them the
                actor is abandoned (`abandon_start`): it stops as soon as ``on_start``
                returns and never takes `name`.

        Returns:
            The ref, and None once ``on_start`` returned; or the ref and why the actor
            did not start, once its exit is complete (or, after a timeout, at once).

        Raises:
            DuplicateNameError: `reserve` and another owner holds `name`.
            Exception: whatever the class's ``__init__`` raised.
        """
        _metrics.watch_mailboxes()
        actor = cls(*args, **(kwargs or {}))
        ref = actor.actor_ref
        if name is not None:
            if reserve:
                registry.reserve(name, actor)
                actor._release_name_on_exit = True
            actor._name = name
        if watcher is not None:
            actor._monitors.append(watcher)
            actor._supervised = True
            if not wait:
                actor._start_watcher = watcher
        ActorRegistry.register(ref)
        logger.bind(event=events.ACTOR_STARTING, actor_class=cls.__name__).debug("Starting {}", actor)
        actor._start_thread()
        if not wait:
            return ref, None
        if not actor._started.wait(timeout) and actor._abandon_start():
            return ref, start_timed_out(name or str(actor), timeout)
        failure = actor._start_failure
        if failure is not None:
            ref.wait_exit(timeout)  # on_exit runs after a failed start: bounded like on_start
            return ref, failure
        if name is not None:
            registry.assign(name, ref)
        return ref, None

    def _abandon_start(self) -> bool:
        """Gives up on a start whose ``on_start`` has not returned; False if it has by now.

        Any thread may call it. The actor's name is freed if the actor held it, unregistered
        from pykka's registry, and, once ``on_start`` returns, stopped at once.
        """
        with self._start_lock:
            if self._started.is_set():
                return False
            self._start_abandoned = True
        ActorRegistry.unregister(self.actor_ref)
        if self._name is not None and self._release_name_on_exit:
            registry.release(self._name, self)
        return True

    def _start_done(self) -> None:
        # Taken before `_started` is set: a crash after on_start returned is not a failed start.
        if self._crash is not None:
            self._start_failure = self._crash
        elif self.actor_stopped.is_set():
            self._start_failure = ExitReason("normal")
        with self._start_lock:
            abandoned = self._start_abandoned
            self._started.set()
        if self._start_failure is not None:
            return  # a failed start: the Down reports it
        if abandoned:
            logger.bind(event=events.ACTOR_LATE_START_STOPPED, actor_class=type(self).__name__).warning(
                "{} returned from on_start after its start timed out; stopping it", self
            )
            self._stopped_from_outside = True  # its starter stopped it: a shutdown, not a crash
            self._stop()
        elif self._start_watcher is not None:
            _deliver(self._start_watcher, _Started(self.actor_ref))

    # ---- Zixir's hooks into the loop (see zixir.actors._pykka) ----------------------------

    def _new_ref(self) -> ActorRef[Any]:
        return ActorRef(self)

    @staticmethod
    def _new_future() -> Future[Any]:
        return Future()

    @classmethod
    def _new_inbox(cls) -> Inbox:
        if cls.mailbox_size is None:
            return super()._new_inbox()
        if cls.mailbox_size < 1:
            raise ValueError(f"{cls.__name__}.mailbox_size must be None or at least 1, got {cls.mailbox_size}")
        return BoundedInbox(cls.mailbox_size, cls.mailbox_timeout, cls.__name__)

    # ---- exit ---------------------------------------------------------------------------

    def _exit(self) -> None:
        """Runs once, last, in the actor's thread: cleanup hook, then exit reports."""
        if self._crash is not None:
            reason = self._crash
        else:
            reason = ExitReason("shutdown" if self._stopped_from_outside else "normal")
        ActorRegistry.unregister(self.actor_ref)
        self.actor_stopped.set()
        try:
            self.on_exit(reason)
        except BaseException as exc:
            logger.bind(
                event=events.ACTOR_EXIT_HOOK_FAILED, actor_class=type(self).__name__, error_type=type(exc).__name__
            ).opt(exception=exc).warning("on_exit of {} failed", self)
        with self._exit_lock:
            self._exit_reason = reason
            monitors, links = list(self._monitors), list(self._links)
        if self._name is not None:
            registry.vacate(self._name, self.actor_ref)
            if self._release_name_on_exit:
                registry.release(self._name, self)
        self._started.set()
        for ref in monitors:
            _deliver(ref, Down(self.actor_ref, reason))
        if reason.abnormal:
            for ref in links:
                _deliver(ref, _LinkedExit(self.actor_ref, reason))
        _EXITS.labels(type(self).__name__, reason.kind).inc()  # after the reports: off the restart path
        # Last: whoever waits on wait_exit() may rely on the reports being queued already.
        self.actor_ref._set_exit(reason)
        logger.bind(
            event=events.ACTOR_EXITED, actor_class=type(self).__name__, reason=reason.kind, error_type=reason.error_type
        ).debug("{} exited: {}", self, reason.kind if reason.error_type is None else f"crash: {reason.error_type}")

    def _on_linked_exit_signal(self, signal: _LinkedExit) -> None:
        if self.trap_exits:
            self.on_linked_exit(signal.ref, signal.reason)
            return
        raise ActorCrashedError(
            f"{self} stopped because the linked actor {signal.ref} crashed ({signal.reason})",
            str(signal.ref),
        )

    def _watch(self, watcher: pykka.ActorRef[Any], *, link: bool) -> ExitReason | None:
        """Adds a monitor or link; returns the exit reason instead if already exited."""
        with self._exit_lock:
            if self._exit_reason is not None:
                return self._exit_reason
            (self._links if link else self._monitors).append(watcher)
            return None

    def _unwatch(self, watcher: pykka.ActorRef[Any], *, link: bool) -> None:
        with self._exit_lock:
            watchers = self._links if link else self._monitors
            if watcher in watchers:
                watchers.remove(watcher)

    # ---- public API -----------------------------------------------------------------------

    def monitor(self, ref: pykka.ActorRef[Any]) -> None:
        """Asks for a `Down` message (to `on_down`) when the actor behind `ref` exits.

        If it has already exited, the `Down` arrives at once with its exit reason (a
        "noproc" crash for an actor that did not run under Zixir).
        """
        target = _actor_of(ref)
        reason = _exit_of(ref) if target is None else target._watch(self.actor_ref, link=False)
        if reason is not None:
            _deliver(self.actor_ref, Down(ref, reason))

    def demonitor(self, ref: pykka.ActorRef[Any]) -> None:
        """Stops monitoring `ref`."""
        target = _actor_of(ref)
        if target is not None:
            target._unwatch(self.actor_ref, link=False)

    def link(self, ref: pykka.ActorRef[Any]) -> None:
        """Links this actor and `ref` both ways: a crash of either stops the other.

        An actor with ``trap_exits = True`` gets `on_linked_exit` instead of stopping.
        """
        target = _actor_of(ref)
        reason = _exit_of(ref) if target is None else target._watch(self.actor_ref, link=True)
        if reason is not None:
            if reason.abnormal:
                _deliver(self.actor_ref, _LinkedExit(ref, reason))
            return
        assert target is not None
        mine = self._watch(target.actor_ref, link=True)
        if mine is not None and mine.abnormal:
            _deliver(target.actor_ref, _LinkedExit(self.actor_ref, mine))

    def unlink(self, ref: pykka.ActorRef[Any]) -> None:
        """Removes a link made by `link`, both ways."""
        target = _actor_of(ref)
        if target is not None:
            target._unwatch(self.actor_ref, link=True)
            self._unwatch(target.actor_ref, link=True)

    def on_down(self, down: Down) -> None:
        """Called in this actor's thread when a monitored actor exits. Default: log it."""
        logger.debug("{} saw {} exit: {}", self, down.ref, down.reason)

    def on_linked_exit(self, ref: pykka.ActorRef[Any], reason: ExitReason) -> None:
        """Called instead of stopping when a linked actor crashes and `trap_exits` is set."""
        logger.debug("{} trapped the exit of {}: {}", self, ref, reason)

    def on_exit(self, reason: ExitReason) -> None:
        """Cleanup hook: runs exactly once, last, on every exit, in the actor's thread.

        Unlike `on_stop` (skipped after failures, as in pykka) it also runs after a crash
        in any phase, `on_start` included, like OTP's ``terminate/2``: release files,
        pools and environments here so that restarts do not leak them.

        Args:
            reason: Why the actor is exiting.
        """


def abandon_start(ref: pykka.ActorRef[Any]) -> bool:
    """Gives up on the start of the actor behind `ref` if its ``on_start`` is still running.

    Returns:
        True if it was abandoned: it stops as soon as ``on_start`` returns (running
        ``on_stop`` and ``on_exit``), and never takes its name. False if ``on_start`` has
        already returned (or failed), or `ref` is not a Zixir actor.
    """
    actor = _actor_of(ref)
    return actor is not None and actor._abandon_start()


def current_actor_name() -> str | None:
    """The name of the actor whose thread calls this, for logs; None outside actors' threads.

    A child's ChildSpec name (or the name it was started under), else its class and the
    start of its URN, as ``"Worker (urn:uuid:1f0c2a9e)"``.
    """
    actor = current_actor()
    if actor is None:
        return None
    name = actor._name if isinstance(actor, Actor) else None
    return name if name is not None else f"{type(actor).__name__} ({actor.actor_urn[:17]})"


def start_timed_out(child: str, timeout: float | None) -> ExitReason:
    """The failure of a start whose ``on_start`` did not return within `timeout` seconds."""
    error = ChildStartError(
        f"child {child!r} timed out after {timeout} s in on_start (its start_timeout) and was abandoned: "
        "its thread cannot be killed, it stops as soon as on_start returns; make on_start return "
        "sooner (move long work to a message told from it) or raise start_timeout",
        child,
    )
    return ExitReason("crash", type(error).__name__, str(error), None, error)


def _actor_of(ref: pykka.ActorRef[Any]) -> Actor | None:
    """The Zixir actor behind `ref` (None if it is gone, or not a Zixir actor)."""
    actor = ref._owner() if isinstance(ref, ActorRef) else None
    return actor if isinstance(actor, Actor) else None


def _exit_of(ref: pykka.ActorRef[Any]) -> ExitReason:
    """The exit reason of an actor that is gone: its own, or "noproc" if unknown."""
    reason = ref.exit_reason if isinstance(ref, ActorRef) else None
    return reason if reason is not None else _NOPROC


def _deliver(ref: pykka.ActorRef[Any], message: object) -> None:
    """Tells `message` to `ref`, tolerating an actor that is itself stopping."""
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        kind = type(message).__name__
        logger.bind(event=events.ACTOR_REPORT_UNDELIVERED, message_type=kind).debug(
            "{} could not be told a {}: it has stopped", ref, kind
        )
