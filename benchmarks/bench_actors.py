"""Actor messaging and supervision against raw pykka: tells, asks, handles and restarts.

Both sides run in this process, one actor each, so thread scheduling affects them alike.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pykka

from benchmarks.harness import Comparison, compare, progress
from zixir import Actor, ChildSpec, Supervisor, handle, tracing, whereis
from zixir.actors import registry
from zixir.actors.ref import ActorRef

TELLS = 20_000
ASKS = 2_000
CRASHES = 51
# A round trip is mostly thread wake-up latency, which varies +-20% between runs: more
# repeats keep the median of the ask rows steady.
ASK_REPEATS = 21
RESTART_TARGET = 1e-3  # the absolute target for crash -> answering again, seconds
POLL_TARGET = 6.0  # crash -> a polling caller answered, against pykka's start() + stop()
WAIT = 5.0

ECHO = "bench.actors.echo"
CRASHY = "bench.actors.crashy"
POLLED = "bench.actors.polled"


class _Tally:
    """Messages counted by an actor; `done` is set when the count reaches `expected`."""

    __slots__ = ("count", "done", "expected")

    def __init__(self, expected: int) -> None:
        self.count = 0
        self.expected = expected
        self.done = threading.Event()

    def reset(self) -> None:
        # Only between runs, when the actor is idle: its last write happened before done.set().
        self.count = 0
        self.done.clear()


class _Counting:
    """Counts messages; the same on_receive for both sides so only the runtime differs."""

    def __init__(self, tally: _Tally) -> None:
        super().__init__()
        self.tally = tally

    def on_receive(self, message: Any) -> Any:
        tally = self.tally
        tally.count += 1
        if tally.count == tally.expected:
            tally.done.set()
        return None


class _ZixirCounter(_Counting, Actor):
    pass


class _PykkaCounter(_Counting, pykka.ThreadingActor):
    pass


class _ZixirEcho(Actor):
    def on_receive(self, message: Any) -> Any:
        return message


class _PykkaEcho(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        return message


class _Crashy(Actor):
    """Answers pings; a told "crash" raises, which crashes it (told messages crash)."""

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crashed on purpose by the benchmark")
        return message


class _Trivial(pykka.ThreadingActor):
    pass


def _tells(ref: pykka.ActorRef[Any], tally: _Tally) -> Callable[[], object]:
    """`TELLS` tells, then waiting until the actor has handled them all."""

    def loop() -> object:
        tally.reset()
        tell = ref.tell
        for i in range(TELLS):
            tell(i)
        if not tally.done.wait(WAIT):
            raise RuntimeError(f"{ref} handled {tally.count} of {TELLS} messages within {WAIT} s")
        return None

    return loop


def _sends(ref: pykka.ActorRef[Any], tally: _Tally) -> Callable[[], object]:
    """Seconds of the send loop alone; still drains, so no backlog leaks into the next run."""

    def loop() -> object:
        tally.reset()
        tell = ref.tell
        start = time.perf_counter()
        for i in range(TELLS):
            tell(i)
        elapsed = time.perf_counter() - start
        if not tally.done.wait(WAIT):
            raise RuntimeError(f"{ref} handled {tally.count} of {TELLS} messages within {WAIT} s")
        return elapsed

    return loop


def _asks(ask: Callable[[Any], Any]) -> Callable[[], object]:
    def loop() -> object:
        for i in range(ASKS):
            ask(i)
        return None

    return loop


def _fresh_asks(actor_class: Any) -> Callable[[], float]:
    """ASKS asks to an actor started for this repetition (its start and stop not timed).

    Where the scheduler puts a new actor's thread relative to the caller's decides how
    fast it wakes (on this kind of VM, about 12 us or 80 us a round trip, by placement): a
    fresh pair of actors per repetition gives both sides the same odds, where one actor
    each would compare two draws.
    """

    def run() -> float:
        ref = actor_class.start()
        try:
            ref.ask(-1)
            start = time.perf_counter()
            for i in range(ASKS):
                ref.ask(i)
            return time.perf_counter() - start
        finally:
            ref.stop()

    return run


def _crash_and_recover() -> object:
    """One cycle: crash the running child, wait for its successor, get an answer from it."""
    old = whereis(CRASHY)
    assert isinstance(old, ActorRef), f"{CRASHY} is not running"
    old.tell("crash")
    if old.wait_exit(WAIT) is None:
        raise RuntimeError(f"{old} did not exit within {WAIT} s")
    new = registry.wait_for(CRASHY, WAIT)
    if new is None:
        raise RuntimeError(f"{CRASHY} was not restarted within {WAIT} s")
    return new.ask("ping")


def _crash_and_poll() -> object:
    """What a user writes: tell the crashing message, poll whereis until a new ref answers."""
    old = whereis(POLLED)
    if old is None:
        raise RuntimeError(f"{POLLED} is not running")
    old.tell("crash")
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        new = whereis(POLLED)
        if new is not None and new is not old:
            try:
                return new.ask("ping", timeout=WAIT)
            except pykka.ActorDeadError:
                pass  # stopped between the lookup and the ask: look again
        time.sleep(0)  # let the supervisor's and the child's threads run
    raise RuntimeError(f"{POLLED} did not answer again within {WAIT} s")


def _start_stop() -> object:
    """What any restart must at least cost: a thread-backed actor started and stopped."""
    return _Trivial.start().stop()


@contextmanager
def _quiet_crashes() -> Iterator[None]:
    """Silences pykka's stdlib logger during crash rows; Zixir's crash reports go through
    loguru, silent unless the application enables "zixir" (configure_logging)."""
    pykka_logger = logging.getLogger("pykka")
    was = pykka_logger.disabled
    pykka_logger.disabled = True
    try:
        yield
    finally:
        pykka_logger.disabled = was


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def run() -> list[Comparison]:
    """Times tells, asks, handle calls and crash recovery; returns the table rows."""
    before = set(threading.enumerate())
    supervisors: list[pykka.ActorRef[Any]] = []
    try:
        return _measure(supervisors)
    finally:
        # The supervisor first, so it stops its children in order rather than restarting them.
        for supervisor in supervisors:
            supervisor.stop(timeout=WAIT)
        pykka.ActorRegistry.stop_all(timeout=WAIT)
        _check_threads(before)


def _measure(supervisors: list[pykka.ActorRef[Any]]) -> list[Comparison]:
    """The rows; every supervisor started goes into `supervisors`, for run() to stop."""
    rows: list[Comparison] = []

    # 1. tell throughput, to the point where the actor has handled every message.
    z_tally, p_tally = _Tally(TELLS), _Tally(TELLS)
    z_counter = _ZixirCounter.start(z_tally)
    p_counter = _PykkaCounter.start(p_tally)
    tell_row = compare(
        f"{TELLS:,} tell + handled, zixir.Actor",
        f"{TELLS:,} tell + handled, pykka",
        _tells(z_counter, z_tally),
        _tells(p_counter, p_tally),
        target=0.35,
    )
    rows.append(tell_row)
    if not tell_row.met:
        rows.append(
            compare(
                f"{TELLS:,} tell, send loop only, zixir.Actor",
                f"{TELLS:,} tell, send loop only, pykka",
                _sends(z_counter, z_tally),
                _sends(p_counter, p_tally),
                target=None,
                self_timed=True,
            )
        )
    z_counter.stop()
    p_counter.stop()

    # 2. ask round trips, a fresh pair of actors per repetition.
    rows.append(
        compare(
            f"{ASKS:,} ref.ask, zixir.Actor",
            f"{ASKS:,} ref.ask, pykka",
            _fresh_asks(_ZixirEcho),
            _fresh_asks(_PykkaEcho),
            target=1.1,
            repeats=ASK_REPEATS,
            self_timed=True,
        )
    )

    # 2b. the same ask inside a span (the actor handles it in a child span, both kept in
    # the ring) against an ask with no span, to one actor: what tracing costs a traced request.
    z_echo = _ZixirEcho.start()

    def traced_ask(message: Any) -> Any:
        with tracing.span("bench"):
            return z_echo.ask(message)

    rows.append(
        compare(
            f"{ASKS:,} ref.ask in a span, ring exporter",
            f"{ASKS:,} ref.ask, no span",
            _asks(traced_ask),
            _asks(z_echo.ask),
            target=1.25,
            repeats=ASK_REPEATS,
        )
    )
    tracing.clear()
    z_echo.stop()

    # 3. a stable handle against the raw ref, same supervised actor. max_restarts is high
    # because row 4 crashes its child on purpose, many times a second.
    supervisor = Supervisor.start(
        children=[ChildSpec(ECHO, _ZixirEcho), ChildSpec(CRASHY, _Crashy), ChildSpec(POLLED, _Crashy)],
        max_restarts=1_000_000,
        max_seconds=1.0,
    )
    supervisors.append(supervisor)
    echo = registry.wait_for(ECHO, WAIT)
    assert echo is not None, f"{ECHO} did not start"
    rows.append(
        compare(
            f"{ASKS:,} handle(name).ask, supervised",
            f"{ASKS:,} ref.ask, same actor",
            _asks(lambda message: handle(ECHO).ask(message)),
            _asks(echo.ask),
            target=1.15,
            repeats=ASK_REPEATS,
        )
    )
    held = handle(ECHO)  # a handle kept across calls: the lookup without constructing it
    held_row = compare("held handle.ask", "ref.ask", _asks(held.ask), _asks(echo.ask), target=None)
    progress(f"held handle: {held_row.ratio:.3f}x ref.ask ({_ms(held_row.zixir_seconds)} per {ASKS:,})")

    # 4. crash -> restarted -> answering, one cycle per repeat; the target is absolute.
    with _quiet_crashes():
        restart_row = compare(
            "crash -> restarted -> ask answered",
            "pykka ThreadingActor start()+stop()",
            _crash_and_recover,
            _start_stop,
            target=None,
            repeats=CRASHES,
        )
    met = restart_row.zixir_seconds <= RESTART_TARGET
    verdict = "met" if met else "NOT met"
    progress(f"crash -> answering median {_ms(restart_row.zixir_seconds)}: target <= 1 ms {verdict}")
    rows.append(dataclasses.replace(restart_row, case=f"crash -> restarted -> ask (<= 1 ms: {verdict})"))

    # 5. the same as a user writes it: tell the crash, poll whereis() until a new ref answers.
    with _quiet_crashes():
        rows.append(
            compare(
                "tell crash, poll whereis until answered",
                "pykka ThreadingActor start()+stop()",
                _crash_and_poll,
                _start_stop,
                target=POLL_TARGET,
                repeats=CRASHES,
            )
        )
    return rows


def _check_threads(before: set[threading.Thread]) -> None:
    """Waits briefly for the actors' threads to end; reports any still alive."""
    deadline = time.monotonic() + WAIT
    for thread in set(threading.enumerate()) - before:
        thread.join(max(0.0, deadline - time.monotonic()))
    leaked = [t.name for t in set(threading.enumerate()) - before]
    if leaked:
        progress(f"threads still alive after run(): {leaked}")
