"""Schedules run by a WorkflowActor, on an injected clock and timer service: ticks at their
times, missed ticks after a restart, overlap, and a restart that never runs a tick twice."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from zixir import ChildSpec, Supervisor, WorkflowActor, whereis
from zixir.actors.timers import TimerService
from zixir.errors import InvalidArgumentError, WorkflowDefinitionError
from zixir.observability import events
from zixir.workflow import RunHandle, StepContext, Workflow

WAIT = 30.0
T0 = 1_800_000_000.0  # a multiple of 60: ticks of every=60 fall on T0 + k * 60


def stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Crashable(WorkflowActor):
    def explode(self) -> None:
        raise RuntimeError("boom")


class Bench:
    """A scheduled workflow whose runs wait at a gate, its clock, and its host."""

    def __init__(self, make: Callable[..., Workflow], **schedule: Any) -> None:
        self.wf = make("ticker", inputs=("day",))
        self.ran: list[str] = []
        self.cond = threading.Condition()
        self.permits = 0

        @self.wf.step()
        def work(day: str, ctx: StepContext) -> str:
            with self.cond:  # waits for a permit; an abandoned attempt leaves without one
                self.ran.append(ctx.run_id)
                self.cond.notify_all()  # for a test waiting until the attempt started
                assert self.cond.wait_for(lambda: self.permits > 0 or ctx.cancelled.is_set(), WAIT)
                if not ctx.cancelled.is_set():
                    self.permits -= 1
            return day

        self.wf.schedule(inputs=lambda tick: {"day": tick.at.date().isoformat()}, **schedule)
        self.clock = Clock(T0 + 1)
        self.timers = TimerService(self.clock, threaded=False)
        self.root: Any = None

    def start(self) -> None:
        kwargs = {"workflows": [self.wf], "clock": self.clock, "timers": self.timers}
        self.root = Supervisor.start(children=[ChildSpec("sched", Crashable, kwargs=kwargs)])

    def host(self) -> Any:
        return whereis("sched").proxy()

    def release(self) -> None:
        """Lets one run past the gate (and wakes abandoned attempts, which leave)."""
        with self.cond:
            self.permits += 1
            self.cond.notify_all()

    def advance(self, to: float) -> None:
        """Moves the clock, fires the timers due, and waits until the actor has handled them."""
        self.clock.now = to
        self.timers.fire_due()
        self.host().schedules().get(timeout=WAIT)  # asked after the wake-ups: answered after them

    def running(self) -> list[RunHandle]:
        return list(self.host().active().get(timeout=WAIT))

    def finish_one(self) -> str:
        (handle,) = self.running()
        self.release()
        assert handle.result(WAIT).status == "succeeded"
        self.host().schedules().get(timeout=WAIT)  # the actor has seen the run end
        return handle.run_id

    def stop(self) -> None:
        self.root.stop()


@pytest.fixture
def bench(make: Callable[..., Workflow]) -> Iterator[Callable[..., Bench]]:
    made: list[Bench] = []

    def build(**schedule: Any) -> Bench:
        made.append(Bench(make, **schedule))
        return made[-1]

    yield build
    for b in made:
        with b.cond:
            b.permits += 100  # nothing left waiting at the gate when the test ends
            b.cond.notify_all()


def dropped(records: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    found = [r["extra"] for r in records if r["extra"].get("event") == events.WORKFLOW_TICKS_DROPPED]
    return [(extra["reason"], extra["count"]) for extra in found]


def test_ticks_run_at_their_times_with_run_ids_from_their_times(bench: Callable[..., Bench]) -> None:
    b = bench(every=60)
    b.start()
    (info,) = b.host().schedules().get(timeout=WAIT)
    assert (info.schedule, info.running, info.next_tick) == ("ticker", None, dt.datetime.fromtimestamp(T0 + 60, dt.UTC))
    assert b.running() == []
    b.advance(T0 + 60)
    assert b.finish_one() == f"sched-ticker-{stamp(T0 + 60)}"
    b.advance(T0 + 120)
    assert b.finish_one() == f"sched-ticker-{stamp(T0 + 120)}"
    assert b.wf.status(f"sched-ticker-{stamp(T0 + 120)}").outputs == {"work": "2027-01-15"}
    b.stop()


def test_missed_ticks_after_a_restart_run_only_the_latest_with_skip(
    bench: Callable[..., Bench], records: list[dict[str, Any]]
) -> None:
    b = bench(every=60)
    b.start()
    b.advance(T0 + 60)
    b.finish_one()
    b.stop()
    b.clock.now = T0 + 360  # down through the ticks at 120 ... 360
    b.start()
    assert b.finish_one() == f"sched-ticker-{stamp(T0 + 360)}"
    assert dropped(records) == [("missed", 4)]
    assert [info.run_id for info in b.wf.runs()] == [f"sched-ticker-{stamp(T0 + t)}" for t in (360, 60)]
    b.stop()


def test_missed_ticks_are_caught_up_oldest_first_up_to_max_catch_up(
    bench: Callable[..., Bench], records: list[dict[str, Any]]
) -> None:
    b = bench(every=60, missed="catch_up", max_catch_up=3)
    b.start()
    b.advance(T0 + 60)
    b.finish_one()
    b.stop()
    b.clock.now = T0 + 360
    b.start()
    assert [b.finish_one() for _ in range(3)] == [f"sched-ticker-{stamp(T0 + t)}" for t in (240, 300, 360)]
    assert dropped(records) == [("missed", 2)]
    assert b.running() == []
    b.stop()


def test_a_tick_due_while_its_previous_run_runs_is_dropped_with_overlap_skip(
    bench: Callable[..., Bench], records: list[dict[str, Any]]
) -> None:
    b = bench(every=60)
    b.start()
    b.advance(T0 + 60)
    (handle,) = b.running()
    b.advance(T0 + 180)  # the ticks at 120 and 180 fall due meanwhile
    assert [h.run_id for h in b.running()] == [handle.run_id]
    b.release()
    handle.result(WAIT)
    assert b.running() == []  # answered after the actor saw the run end
    assert dropped(records) == [("overlap", 2)]
    b.advance(T0 + 240)
    assert b.finish_one() == f"sched-ticker-{stamp(T0 + 240)}"
    b.stop()


def test_ticks_due_meanwhile_queue_up_to_max_catch_up_with_overlap_queue(
    bench: Callable[..., Bench], records: list[dict[str, Any]]
) -> None:
    b = bench(every=60, overlap="queue", max_catch_up=1)
    b.start()
    b.advance(T0 + 60)
    b.advance(T0 + 180)
    (info,) = b.host().schedules().get(timeout=WAIT)
    assert info.pending == 1
    assert b.finish_one() == f"sched-ticker-{stamp(T0 + 60)}"
    assert b.finish_one() == f"sched-ticker-{stamp(T0 + 180)}"
    assert dropped(records) == [("queue_full", 1)]
    b.stop()


def test_a_crashed_scheduler_resumes_its_tick_and_never_runs_a_tick_twice(bench: Callable[..., Bench]) -> None:
    b = bench(every=60)
    b.start()
    b.advance(T0 + 60)
    (handle,) = b.running()
    with b.cond:  # the run is in flight; its step's attempt must have started to be abandoned
        assert b.cond.wait_for(lambda: b.ran, WAIT)
    old = whereis("sched")
    old.proxy().explode.defer()
    assert old.wait_exit(WAIT) is not None
    with b.cond:
        b.cond.notify_all()  # the abandoned attempt sees ctx.cancelled and ends; nothing of it is committed
    with pytest.raises(Exception, match="exited"):
        handle.result(WAIT)
    b.root.proxy().settled().get(timeout=WAIT)
    assert b.finish_one() == f"sched-ticker-{stamp(T0 + 60)}"  # the same tick, resumed
    b.stop()
    b.start()  # the same time: nothing is due again
    assert b.running() == []
    b.advance(T0 + 120)
    assert b.finish_one() == f"sched-ticker-{stamp(T0 + 120)}"
    assert sorted(info.run_id for info in b.wf.runs()) == [f"sched-ticker-{stamp(T0 + t)}" for t in (60, 120)]
    assert b.ran == [f"sched-ticker-{stamp(T0 + t)}" for t in (60, 60, 120)]  # at least once: the abandoned attempt
    b.stop()


def test_a_restart_derives_the_last_tick_from_the_run_ids_when_its_record_is_gone(
    bench: Callable[..., Bench],
) -> None:
    b = bench(every=60)
    b.start()
    b.advance(T0 + 60)
    b.finish_one()
    b.stop()
    store = b.wf._open()
    store.write(lambda txn: store.delete_prefix(txn, store.ticks, b""))
    b.start()
    assert b.running() == []  # the run id of the tick at 60 says it ran
    b.stop()


def test_schedule_names_map_whitespace_and_are_unique(make: Callable[..., Workflow]) -> None:
    wf = make("nightly etl\tjob", inputs=("day",))
    wf.add_step("load", lambda day: day)
    assert wf.schedule(every=60, inputs={"day": "x"}).name == "nightly_etl_job"
    with pytest.raises(WorkflowDefinitionError, match=r"already has a schedule named 'nightly_etl_job'"):
        wf.schedule(cron="*/5 * * * *", inputs={"day": "x"})
    assert wf.schedule(cron="*/5 * * * *", inputs={"day": "x"}, name="five").cron == "*/5 * * * *"
    with pytest.raises(InvalidArgumentError, match=r"unknown \['month'\]"):
        wf.schedule(every=60, inputs={"day": "x", "month": 1}, name="other")
    assert [s.name for s in wf.schedules] == ["nightly_etl_job", "five"]
