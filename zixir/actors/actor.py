"""`zixir.Actor`: a pykka ThreadingActor that reports every exit and never takes others down.

Adds a cleanup hook that runs on every exit, crash reports to monitors, links and
supervisors, containment of BaseException, bounded mailboxes and default ask timeouts.
"""

from __future__ import annotations

import queue
import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

import pykka
from loguru import logger
from pykka import ActorRegistry
from pykka._actor import logger as pykka_logger
from pykka.messages import _ActorStop

from zixir.actors import registry
from zixir.actors.inbox import BoundedInbox
from zixir.actors.messages import Down, ExitReason, _LinkedExit, _Ping
from zixir.actors.ref import ActorRef, Future
from zixir.errors import ActorCrashedError
from zixir._counters import counter

_EXITS = counter("zixir_actor_exits", "Actor exits, by actor class and kind of exit", ("actor_class", "kind"))

if TYPE_CHECKING:
    from pykka._actor import ActorInbox

__all__ = ["Actor"]

_NOPROC = ExitReason("crash", "ActorDeadError", "the actor was not running", None, None)


class Actor(pykka.ThreadingActor):
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._actor_ref: ActorRef[Any] = ActorRef(self)
        self._thread: threading.Thread | None = None
        self._crash: ExitReason | None = None
        self._stopped_from_outside = False
        self._exit_reason: ExitReason | None = None
        self._exit_lock = threading.Lock()
        self._monitors: list[pykka.ActorRef[Any]] = []
        self._links: list[pykka.ActorRef[Any]] = []
        self._started = threading.Event()
        self._name: str | None = None
        self._release_name_on_exit = False  # started by name, outside any supervisor

    @property
    def actor_ref(self) -> ActorRef[Any]:
        """The actor's `zixir.ActorRef` (a `pykka.ActorRef`)."""
        return self._actor_ref

    # ---- pykka hooks replaced -----------------------------------------------------------

    @classmethod
    def _create_actor_inbox(cls) -> ActorInbox:
        if cls.mailbox_size is None:
            return queue.SimpleQueue()  # C-level: ~5x faster tells than queue.Queue
        if cls.mailbox_size < 1:
            raise ValueError(f"{cls.__name__}.mailbox_size must be None or at least 1, got {cls.mailbox_size}")
        return BoundedInbox(cls.mailbox_size, cls.mailbox_timeout, cls.__name__)

    @staticmethod
    def _create_future() -> Future[Any]:
        return Future()

    def _actor_loop(self) -> None:
        self._thread = threading.current_thread()
        try:
            self._actor_loop_setup()
            self._actor_loop_running()
            self._actor_loop_teardown()
        finally:
            self._exit()

    def _actor_loop_setup(self) -> None:
        try:
            self.on_start()
        except BaseException:  # noqa: BLE001 - SystemExit here must not leave a zombie
            self._handle_failure(*sys.exc_info())
        finally:
            self._started.set()

    def _actor_loop_running(self) -> None:
        while not self.actor_stopped.is_set():
            envelope = self.actor_inbox.get()
            reply_to = envelope.reply_to
            try:
                message = envelope.message
                if type(message) is _ActorStop:
                    # pykka sends an outside stop as an ask, a self-stop as a tell.
                    self._stopped_from_outside = reply_to is not None
                response = self._handle_receive(message)
                if reply_to is not None:
                    reply_to.set(response)
            except Exception:
                exc_info = sys.exc_info()
                if reply_to is not None:
                    pykka_logger.info(f"Exception returned from {self} to caller:", exc_info=exc_info)
                    reply_to.set_exception()
                    if not self.crash_on_ask_error:
                        continue
                self._fail(exc_info)
            except BaseException as exc:  # noqa: BLE001 - contained: stops this actor only
                # pykka stops *every* actor here; Zixir stops this one, as a crash.
                pykka_logger.debug(f"{exc!r} in {self}. Stopping this actor only.")
                if self._crash is None:
                    self._crash = ExitReason.crash(exc)
                if reply_to is not None:
                    reply_to.set_exception()
                self._stop()

    def _fail(self, exc_info: Any) -> None:
        self._handle_failure(*exc_info)
        try:
            self.on_failure(*exc_info)
        except Exception:  # noqa: BLE001
            self._handle_failure(*sys.exc_info())

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._crash is None and exception_value is not None:
            self._crash = ExitReason.crash(exception_value, traceback)
        super()._handle_failure(exception_type, exception_value, traceback)

    def _handle_receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Down:
            return self.on_down(message)
        if kind is _LinkedExit:
            return self._on_linked_exit_signal(message)
        if kind is _Ping:
            return True
        return super()._handle_receive(message)

    # ---- exit ---------------------------------------------------------------------------

    def _exit(self) -> None:
        """Runs once, last, in the actor's thread: cleanup hook, then exit reports."""
        if self._crash is not None:
            reason = self._crash
        else:
            reason = ExitReason("shutdown" if self._stopped_from_outside else "normal")
        ActorRegistry.unregister(self.actor_ref)
        self.actor_stopped.set()
        _EXITS.labels(type(self).__name__, reason.kind).inc()
        try:
            self.on_exit(reason)
        except BaseException as exc:  # noqa: BLE001 - reports must still go out
            logger.opt(exception=exc).warning("on_exit of {} failed", self)
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
        # Last: whoever waits on wait_exit() may rely on the reports being queued already.
        self._actor_ref._set_exit(reason)
        logger.debug("{} exited: {}", self, reason)

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


def _actor_of(ref: pykka.ActorRef[Any]) -> Actor | None:
    actor = ref._actor_weakref()
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
        logger.debug("{} could not be told {}: it has stopped", ref, message)
