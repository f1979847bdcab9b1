"""Zixir's actor references and futures: default ask timeouts and self-ask detection.

They subclass pykka's, so every pykka API (proxies, `ActorRegistry`) keeps working; every
message they send travels in Zixir's envelope (`zixir.actors.envelope`), built here only.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pykka

from zixir.actors._pykka import future_has_result, future_is_settled
from zixir.errors import DeadlockError
from zixir.tracing._context import CURRENT

if TYPE_CHECKING:
    from zixir.actors._pykka import Inbox
    from zixir.actors.actor import Actor
    from zixir.actors.messages import ExitReason

__all__ = ["ActorRef", "Future"]

T = TypeVar("T")
A = TypeVar("A", bound="Actor")

_current = CURRENT.get  # the sender's span, the envelope's third item


class Future(pykka.ThreadingFuture[T]):
    """A pykka future that knows which actor will answer it.

    ``get()`` without a timeout waits for the actor class's ``ask_timeout``; a timeout
    names the actor; and waiting in the answering actor's own thread (which could never
    finish) raises DeadlockError at once.
    """

    _owner: weakref.ref[Actor] | None = None
    _default_timeout: float | None = None
    #: When the ask was sent (time.perf_counter), for the ask latency histogram.
    asked: float | None = None

    def _bind(self, owner: weakref.ref[Actor], default_timeout: float | None) -> None:
        self._owner = owner
        self._default_timeout = default_timeout
        self.asked = time.perf_counter()

    def get(self, *, timeout: float | None = None) -> Any:
        """Waits for the answer (see `pykka.Future.get`).

        Raises:
            DeadlockError: called from the thread of the actor that must answer.
            pykka.Timeout: no answer within `timeout` (or the class's ``ask_timeout``).
        """
        if timeout is None:
            timeout = self._default_timeout
        actor = self._owner() if self._owner is not None else None
        if actor is not None and threading.current_thread() is actor._thread and not future_is_settled(self):
            raise DeadlockError(
                f"{actor} waited for an answer from itself, which would block forever; "
                "call the method directly (self.method()) instead of through the actor's "
                "ref or proxy"
            )
        try:
            return super().get(timeout=timeout)
        except pykka.Timeout:
            if actor is None or future_has_result(self):
                raise  # the actor itself raised Timeout; pass it through unchanged
            raise pykka.Timeout(f"{actor} did not answer within {timeout} s") from None


class ActorRef(pykka.ActorRef[A]):
    """A pykka `ActorRef` with Zixir's additions: default ask timeouts, mailbox depth, exits.

    `tell`, `ask` (and so proxies, ``defer()`` and ``stop()``) send Zixir's envelope,
    ``(message, reply_to, context)``: the only two places one is built.
    """

    def __init__(self, actor: A) -> None:
        super().__init__(actor)
        self._owner: weakref.ref[Actor] = weakref.ref(actor)
        self._inbox = cast("Inbox", actor.actor_inbox)
        self._put = self._inbox.put
        self._exited = threading.Event()
        self._exit_reason: ExitReason | None = None

    @property
    def exit_reason(self) -> ExitReason | None:
        """Why the actor exited; None while it has not finished exiting."""
        return self._exit_reason

    def wait_exit(self, timeout: float | None = None) -> ExitReason | None:
        """Waits until the actor's thread has run its cleanup and reported its exit.

        `stop()` returns once the actor has *stopped*; this returns once it has *exited*:
        its cleanup has run and its `Down` reports are already in its monitors' mailboxes.

        Returns:
            The exit reason, or None if the actor was still running after `timeout`.
        """
        self._exited.wait(timeout)
        return self._exit_reason

    def _set_exit(self, reason: ExitReason) -> None:
        self._exit_reason = reason
        self._exited.set()

    def tell(self, message: Any) -> None:
        """Sends `message` without waiting, as `pykka.ActorRef.tell`.

        Raises:
            pykka.ActorDeadError: the actor is not running.
            MailboxFullError: a bounded mailbox stayed full for its ``mailbox_timeout``.
        """
        if self.actor_stopped.is_set():
            raise pykka.ActorDeadError(f"{self} not found")
        self._put((message, None, _current()))

    def ask(self, message: Any, *, block: bool = True, timeout: float | None = None) -> Any:
        """Sends `message` and waits for the answer, as `pykka.ActorRef.ask`.

        Without `timeout`, waits for the actor class's ``ask_timeout`` (None: forever).
        With ``block=False``, returns a `Future` at once.
        """
        future: Future[Any] = Future()
        future._bind(self._owner, self.actor_class.ask_timeout)
        if self.actor_stopped.is_set():
            try:
                raise pykka.ActorDeadError(f"{self} not found")
            except pykka.ActorDeadError:
                future.set_exception()
        else:
            self._put((message, future, _current()))
        if block:
            return future.get(timeout=timeout)
        return future

    def mailbox_depth(self) -> int:
        """How many messages wait in the actor's mailbox."""
        return self._inbox.qsize()
