"""Zixir's one boundary with pykka's internals: every private pykka name Zixir uses is here.

The rest of Zixir imports pykka's *public* names only (``ActorRef``, ``ThreadingActor``,
``ThreadingFuture``, ``ActorRegistry``, ``ActorProxy``, ``ActorDeadError``, ``Timeout``).

Supported pykka versions: ``>=4.5,<4.6`` (`SUPPORTED_PYKKA`, the pin in pyproject.toml).
pykka's own test suite runs against `zixir.Actor` (tests/actors/test_pykka_suite.py);
re-run it before widening the pin. The touch points, and why each is needed:

1. ``pykka.messages._ActorStop``, the stop request: the loop tells a self-stop (a tell)
   from an outside stop (an ask); bounded mailboxes let it jump the queue; a supervisor
   tells it to a hung child it abandons (`stop_message`, `is_stop`, `STOP_TYPE`).
2. ``ThreadingActor``'s private hooks, replaced by `ActorBase`: ``_create_actor_inbox``
   (a C-level ``SimpleQueue``, or a bounded mailbox), ``_create_future`` (Zixir's
   Future), ``_actor_loop`` and its ``_setup``/``_running`` parts (BaseException stops one
   actor, not all; a crash reason is kept; ``crash_on_ask_error``; system messages),
   ``_handle_failure`` and ``_stop`` (crash reports through loguru), and
   ``_start_actor_loop`` (called to start the thread). The loop also lets a handler
   answer its caller later (it returns `DEFER_REPLY`; a supervisor's dynamic starts).
   ``_actor_loop_teardown`` keeps pykka's behaviour for Zixir's envelope: asks left in
   the mailbox get ActorDeadError, a stop request its answer. pykka's
   ``_handle_receive`` is reused as the dispatch of proxy calls and the stop.
3. ``pykka.Actor.__init__`` stores a plain ``pykka.ActorRef`` in ``_actor_ref``:
   `ActorBase` overrides the public ``actor_ref`` property instead of writing to it.
4. ``ThreadingFuture._result`` / ``_get_hook``: whether a future already holds its
   answer (`future_is_settled`, `future_has_result`).
5. pykka's log texts ("Unhandled exception in ...:", "Exception returned from ... to
   caller:", "Unexpected message received by ...", the debug lines of starts and
   stops): kept, but logged through loguru like every other Zixir record;
   `forward_logs_to_stdlib` copies them to pykka's stdlib logger for code that reads it.

6. ``pykka.messages``' proxy messages (``ProxyCall``, ``ProxyGetAttr``, ``ProxySetAttr``):
   their ``attr_path`` names the method a traced message's span is named after
   (`handler_name`).

Zixir's own envelope (`zixir.actors.envelope`) is a tuple ``(message, reply_to,
context)``; only Zixir's loop and teardown take it apart.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, cast

import pykka
from loguru import logger
from pykka import ActorDeadError, ActorRegistry
from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr, _ActorStop

from zixir.actors import _metrics
from zixir.actors.messages import ExitReason
from zixir.observability import events
from zixir.tracing._context import CURRENT

if TYPE_CHECKING:
    from loguru import Message
    from pykka._actor import ActorInbox

    from zixir.actors.envelope import Envelope

__all__ = [
    "DEFER_REPLY",
    "FORWARDED",
    "PROXY_TYPES",
    "PYKKA_LOGGER",
    "STOP_TYPE",
    "SUPPORTED_PYKKA",
    "ActorBase",
    "Inbox",
    "SystemHandler",
    "current_actor",
    "forward_logs_to_stdlib",
    "future_has_result",
    "future_is_settled",
    "handler_name",
    "is_stop",
    "stop_message",
]

#: The pykka releases this module was written and tested against (pyproject's pin).
SUPPORTED_PYKKA: Final = ">=4.5,<4.6"
#: The name of pykka's stdlib logger.
PYKKA_LOGGER: Final = "pykka"
#: The class of pykka's stop request.
STOP_TYPE: Final[type] = _ActorStop
#: An attribute set on the stdlib records `forward_logs_to_stdlib` makes: they came from
#: loguru, so a bridge from stdlib logging into loguru must not send them back.
FORWARDED: Final = "zixir_forwarded"

# The actor whose thread this is; set once, when the thread starts its loop.
_this_thread = threading.local()
_current_span = CURRENT.get
_set_span = CURRENT.set


class _DeferReply:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DEFER_REPLY"


#: Returned by a handler that answers its caller later: the loop hands the caller's
#: future to the actor's ``_defer_reply`` instead of answering it with the return value.
DEFER_REPLY: Final = _DeferReply()


class Inbox(Protocol):
    """A mailbox of Zixir envelopes (pykka's ``ActorInbox`` protocol, with Zixir's envelope)."""

    def put(self, envelope: Envelope, /) -> None: ...

    def get(self) -> Envelope: ...

    def empty(self) -> bool: ...

    def qsize(self) -> int: ...


def stop_message() -> object:
    """A new stop request, as ``ActorRef.stop()`` and ``Actor.stop()`` send."""
    return _ActorStop()


def is_stop(message: object) -> bool:
    """True for pykka's stop request."""
    return type(message) is _ActorStop


_PROXY_MESSAGES = (ProxyCall, ProxyGetAttr, ProxySetAttr)
#: The proxy messages: the only ones whose `handler_name` depends on more than their type.
PROXY_TYPES: Final[tuple[type, ...]] = _PROXY_MESSAGES
#: The messages pykka's own dispatch handles; anything else goes to ``on_receive``.
_PYKKA_MESSAGES = (*_PROXY_MESSAGES, _ActorStop)
_pykka_dispatch = pykka.ThreadingActor._handle_receive
#: A handler of a message that does not go to ``on_receive``: called as handler(actor, message).
SystemHandler = Callable[[Any, Any], Any]
_SYSTEM_HANDLERS = {"Down": "on_down", "_LinkedExit": "on_linked_exit", "_ActorStop": "stop"}


def handler_name(message: object) -> str:
    """What handles `message`: the method or attribute of a proxy call, else ``"on_receive"``
    (``"on_down"``, ``"on_linked_exit"``, ``"stop"`` for those system messages)."""
    kind = type(message)
    if kind in _PROXY_MESSAGES:
        return str(message.attr_path[-1])  # type: ignore[attr-defined]
    return _SYSTEM_HANDLERS.get(kind.__name__, "on_receive")


def current_actor() -> ActorBase | None:
    """The actor whose thread calls this, or None outside any actor's thread."""
    actor: ActorBase | None = getattr(_this_thread, "actor", None)
    return actor


def future_is_settled(future: pykka.ThreadingFuture[Any]) -> bool:
    """True once `future` holds its answer or a get hook (``get`` will not wait for an actor)."""
    return future._result is not None or future._get_hook is not None


def future_has_result(future: pykka.ThreadingFuture[Any]) -> bool:
    """True once `future` holds an answer (a value or an exception)."""
    return future._result is not None


class ActorBase(pykka.ThreadingActor):
    """`pykka.ThreadingActor` with the private hooks Zixir needs replaced, in one place.

    `zixir.Actor` builds on it through Zixir-named hooks only: `_new_ref`, `_new_future`,
    `_new_inbox`, `_receive` (each message), `_start_done` (after ``on_start``), `_exit`
    (last, in the actor's thread), `_start_thread`, and `_defer_reply` for a handler that
    answers later (it returns `DEFER_REPLY`). The loop keeps pykka's order:
    `_handle_failure`, then `on_failure`, then a second `_handle_failure` if `on_failure` fails.
    """

    crash_on_ask_error: ClassVar[bool] = False
    #: The messages that do not go to ``on_receive``, by exact type, and their handlers:
    #: pykka's stop request and proxy messages here; subclasses add their own.
    _system_handlers: ClassVar[dict[type, SystemHandler]] = dict.fromkeys(_PYKKA_MESSAGES, _pykka_dispatch)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._zixir_ref = self._new_ref()
        self._thread: threading.Thread | None = None
        self._crash: ExitReason | None = None
        self._stopped_from_outside = False
        self._started = threading.Event()
        self._messages_handled = 0  # written by the actor's thread only; read by scrapes
        # False once the actor has stopped: what the loop checks between messages, a plain
        # attribute where ``actor_stopped.is_set()`` is a call. Only the actor's thread
        # stops it (`_stop`, `_handle_failure`), next to ``actor_stopped.set()``.
        self._looping = True
        self._ask_latency = _metrics.ask_latency(type(self).__name__)

    @property
    def actor_ref(self) -> Any:
        """The actor's ref (Zixir's `ActorRef`, a `pykka.ActorRef`)."""
        return self._zixir_ref

    # ---- Zixir's hooks ----------------------------------------------------------------

    def _new_ref(self) -> pykka.ActorRef[Any]:
        return pykka.ActorRef(self)

    @staticmethod
    def _new_future() -> pykka.Future[Any]:
        return pykka.ThreadingFuture()

    @classmethod
    def _new_inbox(cls) -> Inbox:
        return queue.SimpleQueue()  # C-level: ~5x faster tells than queue.Queue

    def _receive(self, message: Any) -> Any:
        """Handles one message: a system message's handler, else ``on_receive``.

        The loop runs this very code inline unless a subclass overrides it.
        """
        handler = self._system_handlers.get(type(message))
        return self.on_receive(message) if handler is None else handler(self, message)

    def _exit(self) -> None:
        """Runs once, last, in the actor's thread."""
        ActorRegistry.unregister(self.actor_ref)
        self.actor_stopped.set()
        self._started.set()

    def _start_done(self) -> None:
        """Runs in the actor's thread once ``on_start`` has returned or failed."""
        self._started.set()

    def _defer_reply(self, reply_to: pykka.Future[Any]) -> None:
        """Keeps `reply_to` to answer later; called when a handler returned `DEFER_REPLY`."""
        raise TypeError(
            f"{type(self).__name__} returned DEFER_REPLY, but only zixir.Actor keeps replies to answer later"
        )

    def _start_thread(self) -> None:
        """Starts the actor's thread (pykka names it and honours ``use_daemon_thread``)."""
        self._start_actor_loop()

    # ---- pykka's private hooks ----------------------------------------------------------

    @classmethod
    def _create_actor_inbox(cls) -> ActorInbox:
        return cls._new_inbox()  # type: ignore[return-value]  # the same protocol, Zixir's envelope

    @classmethod
    def _create_future(cls) -> pykka.Future[Any]:
        return cls._new_future()  # pykka's ActorRef.ask calls it; Zixir's ActorRef.ask needs no hook

    def _actor_loop(self) -> None:
        self._thread = threading.current_thread()
        _this_thread.actor = self
        _metrics.running(self)
        try:
            self._actor_loop_setup()
            self._actor_loop_running()
            self._actor_loop_teardown()
        finally:
            _metrics.exited(self)
            self._exit()

    def _actor_loop_setup(self) -> None:
        try:
            self.on_start()
        except BaseException:
            self._handle_failure(*sys.exc_info())
        finally:
            self._start_done()

    def _actor_loop_running(self) -> None:
        try:
            self._actor_loop_messages()
        finally:
            if _current_span() is not None:
                _set_span(None)  # left by the last traced message; on_exit must not send in it

    def _actor_loop_messages(self) -> None:
        get = cast("Inbox", self.actor_inbox).get
        latency = self._ask_latency.observe
        receive = self._receive
        # `_receive`, inlined below unless a subclass overrides it (a supervisor does).
        handlers = self._system_handlers if type(self)._receive is ActorBase._receive else None
        receive_in_span: Any = None  # zixir.tracing's, loaded by the first traced message
        # A traced message leaves its span current (the context of this thread is the
        # actor's own): it is cleared before the next untraced message instead, so traced
        # messages cost one context change each, not two.
        traced = False
        while self._looping:
            message, reply_to, context = get()
            self._messages_handled += 1  # only this thread writes it: no lock
            try:
                kind = type(message)
                if kind is _ActorStop:
                    # pykka sends an outside stop as an ask, a self-stop as a tell.
                    self._stopped_from_outside = reply_to is not None
                if context is not None:  # the sender was in a span: handle it in a child span
                    if receive_in_span is None:
                        receive_in_span = _tracing().receive_in_span
                    traced = True
                    plain = handlers is not None and kind not in handlers  # straight to on_receive
                    response = receive_in_span(self, context, message, self.on_receive if plain else receive)
                else:
                    if traced:
                        traced = False
                        _set_span(None)
                    if handlers is None:
                        response = receive(message)
                    else:
                        handler = handlers.get(kind)
                        response = self.on_receive(message) if handler is None else handler(self, message)
                if reply_to is not None:
                    if response is DEFER_REPLY:
                        self._defer_reply(reply_to)
                    else:
                        reply_to.set(response)
                        asked = getattr(reply_to, "asked", None)
                        if asked is not None:
                            latency(time.perf_counter() - asked)
            except Exception:
                exc_info = sys.exc_info()
                if reply_to is not None:
                    logger.bind(
                        event=events.ACTOR_CALL_FAILED,
                        actor_class=type(self).__name__,
                        error_type=type(exc_info[1]).__name__,
                    ).opt(exception=exc_info).info("Exception returned from {} to caller:", self)
                    reply_to.set_exception()
                    if not self.crash_on_ask_error:
                        continue
                self._fail(exc_info)
            except BaseException as exc:
                # pykka stops *every* actor here; Zixir stops this one, as a crash.
                logger.bind(
                    event=events.ACTOR_INTERRUPTED, actor_class=type(self).__name__, error_type=type(exc).__name__
                ).debug("{} in {}. Stopping this actor only.", type(exc).__name__, self)
                if self._crash is None:
                    self._crash = ExitReason.crash(exc)
                if reply_to is not None:
                    reply_to.set_exception()
                self._stop()

    def _actor_loop_teardown(self) -> None:
        # pykka's, for Zixir's envelope: what is left in the mailbox is not handled.
        inbox = cast("Inbox", self.actor_inbox)
        while not inbox.empty():
            message, reply_to, _ = inbox.get()
            if reply_to is None:
                continue
            if type(message) is _ActorStop:
                reply_to.set(None)
            else:
                error = ActorDeadError(f"{self.actor_ref} stopped before handling the message")
                reply_to.set_exception(exc_info=(ActorDeadError, error, None))

    def _fail(self, exc_info: Any) -> None:
        self._handle_failure(*exc_info)
        try:
            self.on_failure(*exc_info)
        except Exception:
            self._handle_failure(*sys.exc_info())

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # pykka's, with the crash reason kept and the report logged through loguru.
        if self._crash is None and exception_value is not None:
            self._crash = ExitReason.crash(exception_value, traceback)
        logger.bind(
            event=events.ACTOR_CRASHED,
            actor_class=type(self).__name__,
            error_type=None if exception_type is None else exception_type.__name__,
        ).opt(exception=(exception_type, exception_value, traceback)).error("Unhandled exception in {}:", self)
        ActorRegistry.unregister(self.actor_ref)
        self._looping = False
        self.actor_stopped.set()

    def _stop(self) -> None:
        # pykka's, logged through loguru.
        ActorRegistry.unregister(self.actor_ref)
        self._looping = False
        self.actor_stopped.set()
        logger.bind(event=events.ACTOR_STOPPED, actor_class=type(self).__name__).debug("Stopped {}", self)
        try:
            self.on_stop()
        except Exception:
            self._handle_failure(*sys.exc_info())

    def on_receive(self, message: Any) -> Any:
        """Handles a plain message; the default logs it as unexpected (pykka's text).

        The record names the message's type only: its content may be a secret.
        """
        kind = type(message).__name__
        logger.bind(event=events.ACTOR_UNEXPECTED_MESSAGE, actor_class=type(self).__name__, message_type=kind).warning(
            "Unexpected message received by {}: a {}", self, kind
        )


_traced: ModuleType | None = None


def _tracing() -> ModuleType:
    """`zixir.tracing._actors`, loaded by the first message that carries a trace context."""
    global _traced
    if _traced is None:
        from zixir.tracing import _actors

        _traced = _actors
    return _traced


_STDLIB_LEVELS = (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG)


def forward_logs_to_stdlib() -> int:
    """Copies the actors' loguru records to pykka's stdlib logger (``"pykka"``), as pykka logs.

    For code that reads pykka's stdlib records, such as pykka's own test suite: crash
    reports keep pykka's texts, levels and ``exc_info``. Enables Zixir's loguru records.

    Returns:
        The loguru handler id; ``loguru.logger.remove(id)`` stops the copying.
    """
    logger.enable("zixir")
    return logger.add(_to_stdlib, level=0, filter="zixir.actors", format="{message}", catch=False)


def _to_stdlib(message: Message) -> None:
    record = message.record
    number = record["level"].no
    level = next((level for level in _STDLIB_LEVELS if number >= level), logging.DEBUG)
    error = record["exception"]
    exc_info = None if error is None else (error.type, error.value, error.traceback)
    logging.getLogger(PYKKA_LOGGER).log(
        level,
        record["message"],
        exc_info=exc_info,  # type: ignore[arg-type]
        extra={FORWARDED: True},
    )
