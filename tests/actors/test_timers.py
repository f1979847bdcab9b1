"""Timers: send_after / send_interval, cancelling, dead targets, one thread for all."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from zixir.actors import Actor, Timer, send_after, send_interval, timers
from zixir.actors.timers import TimerService
from zixir.errors import ArgumentTypeError, InvalidArgumentError

WAIT = 5.0


class Inbox(Actor):
    """Keeps what it is told; `arrived` is set for every message."""

    def __init__(self, got: list[Any], arrived: threading.Semaphore) -> None:
        super().__init__()
        self.got = got
        self.arrived = arrived

    def on_receive(self, message: Any) -> Any:
        self.got.append(message)
        self.arrived.release()


def inbox() -> tuple[pykka.ActorRef[Any], list[Any], threading.Semaphore]:
    got: list[Any] = []
    arrived = threading.Semaphore(0)
    return Inbox.start(got, arrived), got, arrived


def drained(ref: pykka.ActorRef[Any]) -> None:
    """Returns once `ref` has handled everything told to it before."""
    ref.proxy().got.get(timeout=WAIT)


def test_send_after_tells_the_message_once_after_the_delay() -> None:
    ref, got, arrived = inbox()
    timer = send_after(ref, "hello", 0.01)
    assert isinstance(timer, Timer) and timer.interval is None
    assert arrived.acquire(timeout=WAIT)
    drained(ref)
    assert got == ["hello"] and not timer.active and timer.cancel() is False


def test_send_interval_repeats_until_cancelled() -> None:
    ref, got, arrived = inbox()
    timer = send_interval(ref, "tick", 0.005)
    for _ in range(3):
        assert arrived.acquire(timeout=WAIT)
    assert timer.cancel() is True and not timer.active
    drained(ref)
    assert set(got) == {"tick"} and len(got) >= 3


def test_one_thread_fires_every_timer_of_the_process() -> None:
    ref, _, arrived = inbox()
    started = [send_after(ref, i, 0.001 * i) for i in range(20)]
    for _ in started:
        assert arrived.acquire(timeout=WAIT)
    assert [t.name for t in threading.enumerate()].count("zixir-timers") == 1


def test_a_cancelled_timer_never_sends_and_a_due_one_does() -> None:
    now = [0.0]
    service = TimerService(lambda: now[0], threaded=False)
    ref, got, _ = inbox()
    kept = service.send_after(ref, "kept", 1.0)
    dropped = service.send_after(ref, "dropped", 1.0)
    assert dropped.cancel() is True and dropped.cancel() is False
    assert service.fire_due() == 0  # nothing is due at 0.0
    now[0] = 1.0
    assert service.fire_due() == 1
    drained(ref)
    assert got == ["kept"] and not kept.active and service.pending() == 0


def test_an_interval_follows_the_clock_and_a_late_tick_does_not_burst() -> None:
    now = [0.0]
    service = TimerService(lambda: now[0], threaded=False)
    ref, got, _ = inbox()
    timer = service.send_interval(ref, "tick", 2.0)
    now[0] = 1.9
    assert service.fire_due() == 0
    now[0] = 2.0
    assert service.fire_due() == 1 and timer.due == 4.0
    now[0] = 11.0  # four ticks late: one is sent, the next comes an interval later
    assert service.fire_due() == 1 and timer.due == 13.0
    assert service.fire_due() == 0
    drained(ref)
    assert got == ["tick", "tick"]


def test_an_interval_to_a_dead_actor_ends_by_itself() -> None:
    now = [0.0]
    service = TimerService(lambda: now[0], threaded=False)
    ref, _, _ = inbox()
    timer = service.send_interval(ref, "tick", 1.0)
    ref.stop()
    now[0] = 1.0
    assert service.fire_due() == 0
    assert not timer.active and service.pending() == 0


def test_cancelled_timers_do_not_pile_up() -> None:
    service = TimerService(threaded=False)
    ref, _, _ = inbox()
    for _ in range(10_000):
        service.send_after(ref, "never", 3600.0).cancel()
    assert service.pending() == 0
    assert service.queued() <= 64  # the documented bound: 2 x pending + 64


def test_a_forked_child_gets_its_own_timer_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    def timer_threads() -> int:
        return [t.name for t in threading.enumerate()].count("zixir-timers")

    service = TimerService()
    ref, _, arrived = inbox()
    before = timer_threads()
    service.send_after(ref, "parent", 0.0)
    assert arrived.acquire(timeout=WAIT)
    assert timer_threads() == before + 1
    real_pid = timers.os.getpid()
    monkeypatch.setattr(timers.os, "getpid", lambda: real_pid + 1)  # as after fork()
    service.send_after(ref, "child", 0.0)
    assert arrived.acquire(timeout=WAIT)
    assert timer_threads() == before + 2  # (the "parent's" thread would not exist in a child)


def test_timers_refuse_bad_delays() -> None:
    ref, _, _ = inbox()
    with pytest.raises(InvalidArgumentError, match=r"^delay must be a finite number >= 0.0, got -1$"):
        send_after(ref, "x", -1)
    with pytest.raises(InvalidArgumentError, match=r"^interval must be a finite number > 0.0, got 0$"):
        send_interval(ref, "x", 0)
    with pytest.raises(ArgumentTypeError, match=r"^interval must be a number, got '1'$"):
        send_interval(ref, "x", "1")  # type: ignore[arg-type]
