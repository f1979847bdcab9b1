"""Timers that send messages to actors: Erlang's ``timer:send_after`` and ``send_interval``.

Every timer of a process is kept in one heap and fired by one daemon thread, started on
first use (and again in a forked child that uses timers), never at import. A message is
sent in the trace context of the code that scheduled it (`zixir.tracing`).
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pykka
from loguru import logger

from zixir._validate import number
from zixir.observability import events
from zixir.tracing._context import CURRENT, run_in

__all__ = ["Timer", "TimerService", "send_after", "send_interval"]

#: Cancelled timers stay in the heap until they come up, or until they are more than
#: half of it (and at least this many): then the heap is rebuilt without them. So the heap
#: holds at most twice the live timers plus this many.
_COMPACT_AT = 64


class Timer:
    """A pending message: sent once (`send_after`) or every `interval` (`send_interval`).

    Attributes:
        ref: Who receives the message.
        message: What is sent.
        interval: Seconds between sends of an interval timer; None for a one-shot.
    """

    __slots__ = ("_cancelled", "_context", "_due", "_queued", "_service", "interval", "message", "ref")

    def __init__(
        self, service: TimerService, ref: pykka.ActorRef[Any], message: Any, due: float, interval: float | None
    ) -> None:
        self._service = service
        self.ref = ref
        self.message = message
        self.interval = interval
        self._due = due
        self._cancelled = False
        self._queued = False  # in the heap (not being fired right now)
        self._context = CURRENT.get()  # the scheduler's span: the message is sent in it

    @property
    def active(self) -> bool:
        """True until the timer is cancelled, has fired (one-shot), or found its actor dead."""
        return not self._cancelled

    @property
    def due(self) -> float:
        """When it fires next, on its service's clock."""
        return self._due

    def cancel(self) -> bool:
        """Cancels the timer; a message already being sent still arrives.

        Returns:
            True if the timer was active, False if it had already fired or been cancelled.
        """
        return self._service._cancel(self)

    def __repr__(self) -> str:
        kind = "once" if self.interval is None else f"every {self.interval} s"
        state = "active" if self.active else "inactive"
        return f"<Timer {self.message!r} to {self.ref}, {kind}, due {self._due:.3f}, {state}>"


class TimerService:
    """A heap of timers and the one thread that fires them.

    Args:
        clock: Monotonic clock in seconds, the timers' time base.
        threaded: Fire timers from a daemon thread (started on first use). Without it,
            nothing fires until `fire_due` is called: for tests with an injected clock.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, threaded: bool = True) -> None:
        self._clock = clock
        self._threaded = threaded
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._changed = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._cancelled = 0
        self._thread: threading.Thread | None = None

    # ---- public -------------------------------------------------------------------------

    def send_after(self, ref: pykka.ActorRef[Any], message: Any, delay: float) -> Timer:
        """Tells `message` to `ref` once, `delay` seconds from now (see `send_after`)."""
        return self._add(ref, message, _seconds("delay", delay, zero=True), None)

    def send_interval(self, ref: pykka.ActorRef[Any], message: Any, interval: float) -> Timer:
        """Tells `message` to `ref` every `interval` seconds (see `send_interval`)."""
        return self._add(ref, message, _seconds("interval", interval, zero=False), interval)

    def pending(self) -> int:
        """How many timers are active."""
        with self._changed:
            return len(self._heap) - self._cancelled

    def queued(self) -> int:
        """Entries kept, cancelled ones not yet dropped included: at most 2 x `pending` + 64."""
        with self._changed:
            return len(self._heap)

    def fire_due(self) -> int:
        """Sends every message that is due on the clock; returns how many were sent.

        The service's thread calls this; call it yourself on a service built with
        ``threaded=False``.
        """
        with self._changed:
            due = self._pop_due(self._clock())
        return self._fire(due)

    # ---- internals ----------------------------------------------------------------------

    def _add(self, ref: pykka.ActorRef[Any], message: Any, delay: float, interval: float | None) -> Timer:
        if self._pid != os.getpid():
            self._reset()  # a forked child: the parent's thread and lock did not come along
        with self._changed:
            timer = Timer(self, ref, message, self._clock() + delay, interval)
            self._push(timer)
            if self._threaded and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="zixir-timers", daemon=True)
                self._thread.start()
            self._changed.notify()
        return timer

    def _push(self, timer: Timer) -> None:
        timer._queued = True
        heapq.heappush(self._heap, (timer._due, next(self._order), timer))

    def _cancel(self, timer: Timer) -> bool:
        with self._changed:
            if timer._cancelled:
                return False
            timer._cancelled = True
            if timer._queued:
                self._cancelled += 1
                if self._cancelled >= _COMPACT_AT and self._cancelled * 2 > len(self._heap):
                    self._heap = [entry for entry in self._heap if not entry[2]._cancelled]
                    heapq.heapify(self._heap)
                    self._cancelled = 0
            return True

    def _pop_due(self, now: float) -> list[Timer]:
        due: list[Timer] = []
        heap = self._heap
        while heap and (heap[0][2]._cancelled or heap[0][0] <= now):
            timer = heapq.heappop(heap)[2]
            timer._queued = False
            if timer._cancelled:
                self._cancelled -= 1
            else:
                due.append(timer)
        return due

    def _fire(self, timers: list[Timer]) -> int:
        sent = 0
        for timer in timers:
            try:
                run_in(timer._context, timer.ref.tell, timer.message)
                sent += 1
            except pykka.ActorDeadError:
                timer._cancelled = True  # nobody to send to any more: an interval ends here
                continue
            except Exception as exc:
                kind = type(timer.message).__name__  # the message itself may be a secret
                logger.bind(event=events.TIMER_UNDELIVERED, message_type=kind, error_type=type(exc).__name__).opt(
                    exception=exc
                ).warning("a timer's {} to {} could not be delivered", kind, timer.ref)
            with self._changed:
                if timer.interval is None:
                    timer._cancelled = True
                elif not timer._cancelled:
                    now = self._clock()
                    timer._due += timer.interval
                    if timer._due <= now:  # late: the next tick an interval from now, no burst
                        timer._due = now + timer.interval
                    self._push(timer)
                    self._changed.notify()
        return sent

    def _run(self) -> None:
        changed = self._changed
        while True:
            with changed:
                while True:
                    heap = self._heap
                    now = self._clock()
                    if heap and (heap[0][2]._cancelled or heap[0][0] <= now):
                        due = self._pop_due(now)
                        break
                    changed.wait(heap[0][0] - now if heap else None)
            self._fire(due)


def _seconds(what: str, value: float, *, zero: bool) -> float:
    return number(what, value, at_least=0.0) if zero else number(what, value, above=0.0)


_service: TimerService | None = None
_service_lock = threading.Lock()


def _default() -> TimerService:
    global _service
    if _service is None:
        with _service_lock:
            if _service is None:
                _service = TimerService()
    return _service


def send_after(ref: pykka.ActorRef[Any], message: Any, delay: float) -> Timer:
    """Tells `message` to `ref` once, `delay` seconds from now (Erlang's ``send_after``).

    Args:
        ref: The receiving actor.
        message: What is told.
        delay: Seconds from now, >= 0.

    Returns:
        The timer; ``timer.cancel()`` cancels it. An actor that is gone by then is skipped.

    Raises:
        InvalidArgumentError: `delay` is negative, NaN or infinite.
        ArgumentTypeError: `delay` is not a number.
    """
    return _default().send_after(ref, message, delay)


def send_interval(ref: pykka.ActorRef[Any], message: Any, interval: float) -> Timer:
    """Tells `message` to `ref` every `interval` seconds (Erlang's ``send_interval``).

    The first message goes `interval` seconds from now. A tick that comes late is sent at
    once and the next one follows `interval` later (no burst of catch-ups). The timer ends
    by itself once `ref`'s actor is gone.

    Args:
        ref: The receiving actor.
        message: What is told.
        interval: Seconds between messages, > 0.

    Returns:
        The timer; ``timer.cancel()`` stops it.

    Raises:
        InvalidArgumentError: `interval` is not above 0, NaN or infinite.
        ArgumentTypeError: `interval` is not a number.
    """
    return _default().send_interval(ref, message, interval)
