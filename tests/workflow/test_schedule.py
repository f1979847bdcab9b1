"""Workflow schedules: validation, tick times (every, cron, DST), run ids, and the host-side
state (missed ticks, overlap, restarts) on an injected clock."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import subprocess
import sys
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.workflow.schedule import MAX_EVERY, Schedule, Tick
from zixir.workflow.schedule_state import Drop, ScheduleState

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


class Clock:
    """A settable wall clock, in POSIX seconds."""

    def __init__(self, at: dt.datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, at: dt.datetime) -> None:
        self.now = at.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += seconds


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local_times(ticks: list[Tick], zone: zoneinfo.ZoneInfo) -> list[str]:
    return [tick.at.astimezone(zone).isoformat() for tick in ticks]


# -- validation -----------------------------------------------------------------------------


def test_exactly_one_of_every_and_cron_is_required() -> None:
    message = "pass exactly one of every=seconds or cron='*/5 * * * *', got every={}, cron={}"
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message.format(None, None))}$"):
        Schedule("etl")
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message.format(60, repr('* * * * *')))}$"):
        Schedule("etl", every=60, cron="* * * * *")


@pytest.mark.parametrize(
    ("every", "error", "message"),
    [
        (0, InvalidArgumentError, "every must be a finite number > 0, got 0"),
        (-5, InvalidArgumentError, "every must be a finite number > 0, got -5"),
        (float("nan"), InvalidArgumentError, "every must be a finite number > 0, got nan"),
        (True, ArgumentTypeError, "every must be a number, got True"),
        ("60", ArgumentTypeError, "every must be a number, got '60'"),
        (
            0.5,
            InvalidArgumentError,
            "every must be a whole number of seconds >= 1 (run ids have one-second resolution), got 0.5",
        ),
        (
            90.5,
            InvalidArgumentError,
            "every must be a whole number of seconds >= 1 (run ids have one-second resolution), got 90.5",
        ),
        (
            MAX_EVERY + 1,
            InvalidArgumentError,
            f"every must be at most {MAX_EVERY} seconds (366 days), got {MAX_EVERY + 1}; use cron= for longer periods",
        ),
    ],
)
def test_every_must_be_a_whole_number_of_seconds_in_range(
    every: object, error: type[InvalidArgumentError | ArgumentTypeError], message: str
) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$") as caught:
        Schedule("etl", every=every)  # type: ignore[arg-type]
    assert caught.value.argument == "every"  # type: ignore[attr-defined]


def test_every_accepts_integral_floats_and_timedeltas() -> None:
    assert Schedule("etl", every=300.0).every == 300
    assert Schedule("etl", every=dt.timedelta(minutes=5)).every == 300


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("61 * * * *", "Bad minute"),
        ("* * *", "Wrong number of fields"),
        ("", "Wrong number of fields"),
        ("*/0 * * * *", "Bad minute"),
        ("0 0 30 2 *", "Bad day-of-month"),
        ("* * */20 * 1L", "it never matches a time; check its day fields"),
    ],
)
def test_an_invalid_or_never_matching_cron_expression_is_refused_when_built(cron: str, problem: str) -> None:
    message = (
        f"cron={cron!r} is not a valid cron expression ({problem}); write 5 fields, minute hour "
        "day-of-month month day-of-week, such as '*/5 * * * *'"
    )
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$") as caught:
        Schedule("etl", cron=cron)
    assert caught.value.argument == "cron"


def test_cron_must_be_a_string() -> None:
    with pytest.raises(ArgumentTypeError, match=r"^cron must be a str such as '\*/5 \* \* \* \*', got 5$"):
        Schedule("etl", cron=5)  # type: ignore[arg-type]


@given(st.text(alphabet="0123456789*/-,LW#? MONTUEJANabc\t¹", max_size=24))
def test_any_text_as_cron_builds_a_schedule_or_raises_a_typed_error(cron: str) -> None:
    try:
        schedule = Schedule("etl", cron=cron)
    except InvalidArgumentError as error:
        assert error.argument == "cron"
    else:
        assert schedule.next_tick(utc(2026, 1, 1)) is not None


def test_the_time_zone_must_be_known_and_only_goes_with_cron() -> None:
    unknown = (
        "tz='Mars/Olympus' is not a known time zone; use an IANA name such as 'Europe/Paris' "
        "(where the system has no time zone database, pip install tzdata)"
    )
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(unknown)}$"):
        Schedule("etl", cron="0 3 * * *", tz="Mars/Olympus")
    with pytest.raises(InvalidArgumentError, match=r"^tz='\.\./etc' is not a known time zone"):
        Schedule("etl", cron="0 3 * * *", tz="../etc")
    with pytest.raises(ArgumentTypeError, match=r"^tz must be a time zone name such as 'Europe/Paris' or a "):
        Schedule("etl", cron="0 3 * * *", tz=3)  # type: ignore[arg-type]
    with_every = (
        "tz='Europe/Paris' applies to cron schedules only: every= ticks count seconds since the Unix "
        "epoch; use cron= for local times"
    )
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(with_every)}$"):
        Schedule("etl", every=60, tz="Europe/Paris")
    assert Schedule("etl", cron="0 3 * * *", tz="Europe/Paris").tz == zoneinfo.ZoneInfo("Europe/Paris")
    assert Schedule("etl", cron="0 3 * * *", tz=BERLIN).tz is BERLIN
    assert Schedule("etl", cron="0 3 * * *").tz is UTC


def test_policies_and_bounds_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^missed must be 'skip' or 'catch_up', got 'all'$"):
        Schedule("etl", every=60, missed="all")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^overlap must be 'skip' or 'queue', got 'parallel'$"):
        Schedule("etl", every=60, overlap="parallel")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^max_catch_up must be an int >= 1, got 0$"):
        Schedule("etl", every=60, max_catch_up=0)
    with pytest.raises(ArgumentTypeError, match=r"^max_catch_up must be an int, got True$"):
        Schedule("etl", every=60, max_catch_up=True)


def test_the_name_must_be_printable_without_whitespace() -> None:
    for name in ("", "daily etl", "etl\n"):
        with pytest.raises(InvalidArgumentError, match=r"^name must be printable text without whitespace, got "):
            Schedule(name, every=60)
    with pytest.raises(ArgumentTypeError, match=r"^name must be a str, got 7$"):
        Schedule(7, every=60)  # type: ignore[arg-type]


def test_inputs_are_a_mapping_with_str_keys_or_a_function_of_the_tick() -> None:
    with pytest.raises(ArgumentTypeError, match=r"^inputs must be a mapping or a function of the Tick"):
        Schedule("etl", every=60, inputs=[("day", 1)])  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match=r"^inputs keys must be input names \(str\), got 1$"):
        Schedule("etl", every=60, inputs={1: "x"})  # type: ignore[dict-item]
    source = {"region": "eu"}
    fixed = Schedule("etl", every=60, inputs=source)
    source["region"] = "us"  # the schedule keeps its own copy
    tick = fixed.tick_from_run_id("sched-etl-20261202T101500Z")
    assert fixed.inputs_for(tick) == {"region": "eu"}
    by_tick = Schedule("etl", every=60, inputs=lambda tick: {"day": tick.at.date().isoformat()})
    assert by_tick.inputs_for(tick) == {"day": "2026-12-02"}
    assert Schedule("etl", every=60).inputs_for(tick) == {}
    broken = Schedule("etl", every=60, inputs=lambda tick: ["day"])  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match=r"^the inputs function must return a mapping, got \['day'\]$"):
        broken.inputs_for(tick)


def test_times_must_be_aware() -> None:
    schedule = Schedule("etl", every=60)
    with pytest.raises(InvalidArgumentError, match=r"^after must be timezone-aware, got the naive "):
        schedule.next_tick(dt.datetime(2026, 1, 1))
    with pytest.raises(ArgumentTypeError, match=r"^until must be a datetime, got 5$"):
        list(schedule.ticks(utc(2026, 1, 1), 5))  # type: ignore[arg-type]


# -- tick times -----------------------------------------------------------------------------


def test_every_ticks_fall_on_multiples_of_the_period_since_the_epoch() -> None:
    ticks = list(Schedule("etl", every=3600).ticks(utc(2026, 3, 1, 9, 30), utc(2026, 3, 1, 12)))
    assert [tick.at for tick in ticks] == [utc(2026, 3, 1, 10), utc(2026, 3, 1, 11), utc(2026, 3, 1, 12)]
    assert [tick.run_id for tick in ticks] == [
        "sched-etl-20260301T100000Z",
        "sched-etl-20260301T110000Z",
        "sched-etl-20260301T120000Z",
    ]


@given(
    every=st.integers(1, MAX_EVERY),
    after=st.datetimes(dt.datetime(1971, 1, 1), dt.datetime(2200, 1, 1), timezones=st.just(UTC)),
    count=st.integers(1, 50),
)
def test_every_ticks_are_evenly_spaced_and_never_repeat(every: int, after: dt.datetime, count: int) -> None:
    schedule = Schedule("etl", every=every)
    until = after + dt.timedelta(seconds=every * count)
    ticks = list(schedule.ticks(after, until))
    assert len(ticks) == count
    assert after < ticks[0].at <= after + dt.timedelta(seconds=every)
    assert all(later.at - earlier.at == dt.timedelta(seconds=every) for earlier, later in itertools.pairwise(ticks))
    assert all(tick.at.timestamp() % every == 0 for tick in ticks)
    assert len({tick.run_id for tick in ticks}) == count


CRONS = ["*/7 * * * *", "30 2 * * *", "0 */2 * * *", "15,45 1-3 * * *", "0 0 * * MON", "0 12 L * *", "59 23 * * *"]
# With a seconds field: dense, so walked over shorter spans.
SECONDS_CRONS = ["*/20 * * * * *", "30 0 */3 * * *"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]


@given(
    cron=st.sampled_from(CRONS + SECONDS_CRONS),
    zone=st.sampled_from(ZONES),
    after=st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1), timezones=st.just(UTC)),
)
def test_tick_run_ids_are_unique_and_sort_in_time_order(cron: str, zone: str, after: dt.datetime) -> None:
    schedule = Schedule("etl", cron=cron, tz=zone)
    span = dt.timedelta(hours=2) if cron in SECONDS_CRONS else dt.timedelta(days=3)
    ticks = list(schedule.ticks(after, after + span))
    assert [tick.at for tick in ticks] == sorted({tick.at for tick in ticks})
    assert [tick.run_id for tick in ticks] == sorted({tick.run_id for tick in ticks})
    assert all(schedule.tick_from_run_id(tick.run_id) == tick for tick in ticks)


def test_a_run_id_names_its_tick_and_only_this_schedule_reads_it() -> None:
    schedule = Schedule("etl", every=60)
    tick = schedule.tick_from_run_id("sched-etl-20261202T101500Z")
    assert tick == Tick(utc(2026, 12, 2, 10, 15), "sched-etl-20261202T101500Z")
    assert schedule.run_id(dt.datetime(2026, 12, 2, 11, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == tick.run_id
    for run_id in ("sched-other-20261202T101500Z", "sched-etl-2026-12-02", "2026-12-02"):
        message = (
            f"run_id={run_id!r} is not a tick of schedule 'etl'; tick run ids look like sched-etl-20261202T101500Z"
        )
        with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
            schedule.tick_from_run_id(run_id)


def test_the_next_tick_is_none_when_none_is_left_before_year_10000() -> None:
    last = utc(9999, 12, 31, 23, 59, 59)
    assert Schedule("etl", every=7).next_tick(last - dt.timedelta(seconds=10)) == Tick(
        utc(9999, 12, 31, 23, 59, 55), "sched-etl-99991231T235955Z"
    )
    assert Schedule("etl", every=7).next_tick(last) is None
    assert Schedule("etl", cron="* * * * *").next_tick(last) is None
    assert Schedule("etl", cron="* * * * *", tz="Pacific/Kiritimati").next_tick(last) is None


# -- DST ------------------------------------------------------------------------------------
# Europe/Berlin in 2026: 02:00 -> 03:00 on March 29, 03:00 -> 02:00 on October 25.


def test_a_fixed_time_in_the_spring_gap_runs_once_right_after_the_gap() -> None:
    ticks = list(Schedule("etl", cron="30 2 * * *", tz=BERLIN).ticks(utc(2026, 3, 27, 12), utc(2026, 3, 30, 12)))
    assert local_times(ticks, BERLIN) == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_a_fixed_time_in_the_repeated_autumn_hour_runs_once_at_its_first_occurrence() -> None:
    schedule = Schedule("etl", cron="30 2 * * *", tz=BERLIN)
    ticks = list(schedule.ticks(utc(2026, 10, 24, 12), utc(2026, 10, 26, 12)))
    assert local_times(ticks, BERLIN) == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    # Asked from inside the repeated hour, after the first 02:30, the next is the next day's.
    second_hour = utc(2026, 10, 25, 1, 10)
    assert local_times([schedule.next_tick(second_hour)], BERLIN) == ["2026-10-26T02:30:00+01:00"]  # type: ignore[list-item]


def test_frequent_ticks_follow_real_time_across_both_changes() -> None:
    schedule = Schedule("etl", cron="*/30 * * * *", tz=BERLIN)
    spring = list(schedule.ticks(utc(2026, 3, 29, 0, 15), utc(2026, 3, 29, 1, 45)))
    assert local_times(spring, BERLIN) == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
    ]
    autumn = list(schedule.ticks(utc(2026, 10, 24, 23, 45), utc(2026, 10, 25, 2)))
    assert local_times(autumn, BERLIN) == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]
    assert len({tick.run_id for tick in autumn}) == 5


def test_new_york_changes_behave_the_same() -> None:
    daily = Schedule("etl", cron="30 1 * * *", tz=NEW_YORK)  # 01:00-02:00 repeats on Nov 1, 2026
    assert local_times(list(daily.ticks(utc(2026, 10, 31, 12), utc(2026, 11, 2, 12))), NEW_YORK) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]
    gap = Schedule("etl", cron="15 2 * * *", tz=NEW_YORK)  # 02:00-03:00 is skipped on Mar 8, 2026
    assert local_times(list(gap.ticks(utc(2026, 3, 7, 12), utc(2026, 3, 9, 12))), NEW_YORK) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:15:00-04:00",
    ]


@settings(max_examples=300)
@given(
    cron=st.sampled_from(CRONS),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
    minutes=st.integers(0, 3 * 24 * 60),
    spring=st.booleans(),
)
def test_the_next_tick_from_any_moment_around_a_change_is_the_one_a_full_walk_gives(
    cron: str, zone: str, minutes: int, spring: bool
) -> None:
    # A restarted host asks from wherever its last tick was; it must land on the same ticks.
    schedule = Schedule("etl", cron=cron, tz=zone)
    origin = {
        ("Europe/Berlin", True): utc(2026, 3, 27),
        ("Europe/Berlin", False): utc(2026, 10, 23),
        ("America/New_York", True): utc(2026, 3, 6),
        ("America/New_York", False): utc(2026, 10, 30),
        ("Australia/Lord_Howe", True): utc(2026, 10, 2),
        ("Australia/Lord_Howe", False): utc(2026, 4, 3),
    }[zone, spring]
    moment = origin + dt.timedelta(minutes=minutes, seconds=minutes % 60)
    expected = next(tick for tick in schedule.ticks(origin, origin + dt.timedelta(days=40)) if tick.at > moment)
    assert schedule.next_tick(moment) == expected


# -- the host's state -----------------------------------------------------------------------


def test_a_new_schedule_starts_with_the_first_tick_after_the_first_clock_reading() -> None:
    clock = Clock(utc(2026, 3, 1, 10, 2))
    state = ScheduleState(Schedule("etl", cron="*/5 * * * *"), clock=clock)
    first = state.poll()
    assert first.start is None and first.dropped == () and first.pending == 0
    assert first.wake_at == utc(2026, 3, 1, 10, 5) and first.wake_in == 180.0
    clock.set(utc(2026, 3, 1, 10, 5, 1))
    due = state.poll()
    assert due.start == Tick(utc(2026, 3, 1, 10, 5), "sched-etl-20260301T100500Z")
    assert state.running == due.start
    assert due.wake_at == utc(2026, 3, 1, 10, 10) and due.wake_in == 299.0


def test_missed_skip_runs_only_the_latest_missed_tick_after_a_restart() -> None:
    schedule = Schedule("etl", every=300, missed="skip")
    clock = Clock(utc(2026, 3, 1, 11, 1))
    state = ScheduleState(schedule, last_tick=utc(2026, 3, 1, 10), clock=clock)
    poll = state.poll()
    assert poll.start is not None and poll.start.at == utc(2026, 3, 1, 11)
    assert poll.dropped == (Drop("missed", utc(2026, 3, 1, 10, 5), utc(2026, 3, 1, 10, 55), 11),)
    assert poll.pending == 0


def test_missed_catch_up_runs_the_latest_max_catch_up_ticks_oldest_first_one_at_a_time() -> None:
    schedule = Schedule("etl", every=300, missed="catch_up", max_catch_up=3)
    clock = Clock(utc(2026, 3, 1, 11, 1))
    state = ScheduleState(schedule, last_tick=utc(2026, 3, 1, 10), clock=clock)
    poll = state.poll()
    assert poll.dropped == (Drop("missed", utc(2026, 3, 1, 10, 5), utc(2026, 3, 1, 10, 45), 9),)
    started = [poll.start]
    assert [tick.at for tick in state.pending] == [utc(2026, 3, 1, 10, 55), utc(2026, 3, 1, 11)]
    assert state.poll().start is None  # runs of one schedule never overlap
    while (poll := state.finished(started[-1])).start is not None:  # type: ignore[arg-type]
        started.append(poll.start)
    assert [tick.at for tick in started] == [utc(2026, 3, 1, 10, 50), utc(2026, 3, 1, 10, 55), utc(2026, 3, 1, 11)]  # type: ignore[union-attr]
    assert state.running is None and state.pending == ()


def test_overlap_skip_drops_ticks_that_fall_due_while_a_run_runs() -> None:
    schedule = Schedule("etl", every=60, overlap="skip")
    clock = Clock(utc(2026, 3, 1, 10, 0, 30))
    state = ScheduleState(schedule, clock=clock)
    clock.advance(31)
    running = state.poll().start
    assert running is not None and running.at == utc(2026, 3, 1, 10, 1)
    clock.advance(60)
    assert state.poll().dropped == (Drop("overlap", utc(2026, 3, 1, 10, 2), utc(2026, 3, 1, 10, 2), 1),)
    clock.advance(150)
    after = state.finished(running)
    assert after.dropped == (Drop("overlap", utc(2026, 3, 1, 10, 3), utc(2026, 3, 1, 10, 4), 2),)
    assert after.start is None and after.wake_at == utc(2026, 3, 1, 10, 5)
    clock.advance(60)
    assert state.poll().start == Tick(utc(2026, 3, 1, 10, 5), "sched-etl-20260301T100500Z")


def test_overlap_queue_holds_at_most_max_catch_up_ticks_dropping_the_oldest() -> None:
    schedule = Schedule("etl", every=60, overlap="queue", max_catch_up=2)
    clock = Clock(utc(2026, 3, 1, 10, 0, 30))
    state = ScheduleState(schedule, clock=clock)
    clock.advance(31)
    running = state.poll().start
    clock.advance(60)
    assert state.poll().pending == 1
    clock.advance(60)
    assert state.poll().pending == 2
    clock.advance(60)
    full = state.poll()
    assert full.pending == 2
    assert full.dropped == (Drop("queue_full", utc(2026, 3, 1, 10, 2), utc(2026, 3, 1, 10, 2), 1),)
    clock.advance(600)  # ten more ticks while the same run runs: eight are too many
    assert state.poll().dropped == (
        Drop("queue_full", utc(2026, 3, 1, 10, 5), utc(2026, 3, 1, 10, 12), 8),
        Drop("queue_full", utc(2026, 3, 1, 10, 3), utc(2026, 3, 1, 10, 4), 2),
    )
    nxt = state.finished(running)  # type: ignore[arg-type]
    assert nxt.start is not None and nxt.start.at == utc(2026, 3, 1, 10, 13)
    assert [tick.at for tick in state.pending] == [utc(2026, 3, 1, 10, 14)]


def test_a_restart_with_the_last_run_still_running_queues_missed_ticks_behind_it() -> None:
    schedule = Schedule("etl", every=60, missed="catch_up", overlap="skip", max_catch_up=2)
    clock = Clock(utc(2026, 3, 1, 10, 5, 30))
    state = ScheduleState(schedule, last_tick=utc(2026, 3, 1, 10), running=True, clock=clock)
    assert state.running == schedule.tick_from_run_id("sched-etl-20260301T100000Z")
    poll = state.poll()
    assert poll.start is None and poll.pending == 2  # missed while down: catch_up, even with overlap="skip"
    assert poll.dropped == (Drop("missed", utc(2026, 3, 1, 10, 1), utc(2026, 3, 1, 10, 3), 3),)
    clock.advance(60)
    assert state.poll().dropped == (Drop("overlap", utc(2026, 3, 1, 10, 6), utc(2026, 3, 1, 10, 6), 1),)
    assert state.finished(state.running).start == Tick(utc(2026, 3, 1, 10, 4), "sched-etl-20260301T100400Z")


def test_only_the_running_tick_can_finish() -> None:
    schedule = Schedule("etl", every=60)
    state = ScheduleState(schedule, clock=Clock(utc(2026, 3, 1)))
    tick = schedule.tick_from_run_id("sched-etl-20260301T100000Z")
    with pytest.raises(InvalidArgumentError, match=r"^Tick\(at=.* is not the running tick \(None\)$"):
        state.finished(tick)


def test_the_state_checks_its_arguments() -> None:
    schedule = Schedule("etl", every=60)
    with pytest.raises(ArgumentTypeError, match=r"^schedule must be a Schedule, got 'etl'$"):
        ScheduleState("etl")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^running=True needs the last_tick whose run is running$"):
        ScheduleState(schedule, running=True)
    with pytest.raises(ArgumentTypeError, match=r"^clock must be a function returning POSIX seconds"):
        ScheduleState(schedule, clock=12.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^last_tick must be timezone-aware"):
        ScheduleState(schedule, last_tick=dt.datetime(2026, 1, 1))


def test_a_clock_set_back_delays_ticks_and_never_repeats_one() -> None:
    clock = Clock(utc(2026, 3, 1, 10, 0, 30))
    state = ScheduleState(Schedule("etl", every=60), clock=clock)
    clock.advance(31)
    first = state.poll().start
    state.finished(first)  # type: ignore[arg-type]
    clock.set(utc(2026, 3, 1, 9, 0))
    assert state.poll().start is None
    clock.set(utc(2026, 3, 1, 10, 1, 30))
    assert state.poll().start is None
    clock.set(utc(2026, 3, 1, 10, 2))
    assert state.poll().start == Tick(utc(2026, 3, 1, 10, 2), "sched-etl-20260301T100200Z")


def test_a_years_long_outage_costs_no_more_than_a_short_one() -> None:
    # Per-second and per-minute schedules down for ten years: nothing walks every missed tick.
    for schedule in (
        Schedule("etl", every=1, missed="catch_up", max_catch_up=3),
        Schedule("etl", cron="* * * * *", tz=BERLIN, missed="catch_up", max_catch_up=3),
    ):
        state = ScheduleState(schedule, last_tick=utc(2016, 1, 1), clock=Clock(utc(2026, 1, 1, 0, 0, 30)))
        poll = state.poll()
        assert poll.start is not None and len(state.pending) == 2
        (drop,) = poll.dropped
        assert drop.reason == "missed" and drop.first < utc(2016, 1, 1, 0, 2)
        missed_seconds = int((utc(2026, 1, 1, 0, 0, 30) - utc(2016, 1, 1)).total_seconds())
        assert drop.count == (missed_seconds - 3 if schedule.every else None)  # a cron count stops at 1,000


def test_the_repr_says_where_the_state_is() -> None:
    clock = Clock(utc(2026, 3, 1, 10, 0, 30))
    state = ScheduleState(Schedule("etl", every=60), clock=clock)
    clock.advance(31)
    state.poll()
    assert repr(state) == (
        "<ScheduleState 'etl': ticks after 2026-03-01T10:01:01+00:00 taken in; "
        "running sched-etl-20260301T100100Z; 0 pending>"
    )


@settings(max_examples=200)
@given(
    cron=st.sampled_from([None, *CRONS[:4]]),
    missed=st.sampled_from(["skip", "catch_up"]),
    overlap=st.sampled_from(["skip", "queue"]),
    max_catch_up=st.integers(1, 4),
    steps=st.lists(
        st.tuples(st.sampled_from(["wait", "finish", "restart"]), st.integers(1, 6 * 3600)), min_size=1, max_size=40
    ),
)
def test_across_restarts_no_tick_starts_twice_and_bounds_hold(
    cron: str | None, missed: str, overlap: str, max_catch_up: int, steps: list[tuple[str, int]]
) -> None:
    schedule = Schedule(
        "etl",
        every=None if cron else 1800,
        cron=cron,
        tz="Europe/Berlin" if cron else None,
        missed=missed,  # type: ignore[arg-type]
        overlap=overlap,  # type: ignore[arg-type]
        max_catch_up=max_catch_up,
    )
    clock = Clock(utc(2026, 10, 24, 20))
    state = ScheduleState(schedule, clock=clock)
    started: list[Tick] = []
    for action, seconds in steps:
        clock.advance(seconds)
        if action == "restart":  # the host knows the last tick it started and whether it still runs
            last = started[-1].at if started else None
            state = ScheduleState(schedule, last_tick=last, running=state.running is not None, clock=clock)
        poll = state.finished(state.running) if action == "finish" and state.running else state.poll()
        if poll.start is not None:
            started.append(poll.start)
        assert len(state.pending) <= max_catch_up
        assert poll.wake_at is None or poll.wake_at > dt.datetime.fromtimestamp(clock.now, UTC)
    assert [tick.run_id for tick in started] == sorted({tick.run_id for tick in started})
    assert all(tick in schedule.ticks(tick.at - dt.timedelta(seconds=1), tick.at) for tick in started)


@settings(max_examples=200)
@given(
    cron=st.sampled_from(CRONS),
    zone=st.sampled_from(ZONES),
    after=st.datetimes(dt.datetime(2026, 3, 1), dt.datetime(2026, 11, 30), timezones=st.just(UTC)),
    hours=st.integers(0, 72),
    keep=st.integers(1, 5),
)
def test_catch_up_keeps_exactly_the_newest_missed_ticks_a_full_walk_finds(
    cron: str, zone: str, after: dt.datetime, hours: int, keep: int
) -> None:
    schedule = Schedule("etl", cron=cron, tz=zone, missed="catch_up", max_catch_up=keep)
    now = after + dt.timedelta(hours=hours, seconds=1)
    due = list(schedule.ticks(after, now))
    state = ScheduleState(schedule, last_tick=after, clock=Clock(now))
    poll = state.poll()
    run = ([poll.start] if poll.start else []) + list(state.pending)
    assert run == due[-keep:]
    assert len(run) <= keep
    if len(due) > keep:
        assert poll.dropped == (Drop("missed", due[0].at, due[-keep - 1].at, len(due) - keep),)
    else:
        assert poll.dropped == ()


def test_importing_the_schedule_module_or_an_every_schedule_loads_no_cron_library() -> None:
    probe = (
        "import sys, datetime as dt\n"
        "import zixir.workflow.schedule as s\n"
        "s.Schedule('etl', every=60).next_tick(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))\n"
        "before = 'cronsim' in sys.modules\n"
        "s.Schedule('etl', cron='* * * * *')\n"
        "print(before, 'cronsim' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
