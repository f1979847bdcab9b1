"""A schedule's bookkeeping in its host: which tick to start now, which ticks to drop (missed,
overlapping, over the queue's bound), and when to wake up. Pure logic with an injected clock;
the ticks themselves come from the `Schedule` (`zixir.workflow.schedule`).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from typing import Literal

from zixir import _validate
from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.workflow.schedule import UTC, Schedule, Tick, aware

__all__ = ["Drop", "Poll", "ScheduleState"]


@dataclasses.dataclass(frozen=True, slots=True)
class Drop:
    """Ticks that fell due and will not run.

    Attributes:
        reason: "missed" (an older missed tick beyond what `missed` runs), "overlap" (due while
            a run was running, with ``overlap="skip"``) or "queue_full" (more ticks waiting than
            `max_catch_up`; the oldest go).
        first: The earliest dropped tick's time.
        last: The latest dropped tick's time.
        count: How many; None for a cron schedule with more than 1,000 dropped in one go.
    """

    reason: Literal["missed", "overlap", "queue_full"]
    first: dt.datetime
    last: dt.datetime
    count: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class Poll:
    """What the host does now.

    Attributes:
        start: The tick to start a run for now, or None.
        dropped: Ticks that will not run, for the host to log and count.
        wake_at: When the next tick falls due, or None if the cron expression never matches again.
        wake_in: Seconds from the poll until `wake_at` (never negative), or None.
        pending: Ticks waiting for the running one to finish.
    """

    start: Tick | None
    dropped: tuple[Drop, ...]
    wake_at: dt.datetime | None
    wake_in: float | None
    pending: int


class ScheduleState:
    """The bookkeeping of one schedule in its host: which tick to start now, which to drop,
    when to wake up. Not thread-safe: one owner (the host's actor) calls it.

    The host persists the tick of each run it starts (its run id says it) and, after a
    restart, passes the latest as `last_tick`: ticks up to it are never started again, and
    the ones after it that fell due meanwhile are missed ticks (`Schedule.missed`). At most
    one run is running; waiting ticks are at most `Schedule.max_catch_up`.

    Args:
        schedule: The schedule.
        last_tick: The time of the last tick started (aware); None for a schedule never run,
            which then starts with the first tick after the first clock reading.
        running: Whether the run of `last_tick` is still running (the host resumes it); the
            host calls `finished` when it ends.
        clock: POSIX seconds (``time.time``, the wall clock cron reads, by default). A clock
            set back delays ticks; it never repeats one.

    Raises:
        ArgumentTypeError, InvalidArgumentError: An argument is of the wrong type or value.
    """

    def __init__(
        self,
        schedule: Schedule,
        *,
        last_tick: dt.datetime | None = None,
        running: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(schedule, Schedule):
            raise ArgumentTypeError(f"schedule must be a Schedule, got {schedule!r}", "schedule")
        self._schedule = schedule
        self._clock = _validate.function("clock", clock, "a function returning POSIX seconds, like time.time")
        if running and last_tick is None:
            raise InvalidArgumentError("running=True needs the last_tick whose run is running", "running")
        self._cursor = self._now() if last_tick is None else aware("last_tick", last_tick)
        self._running = schedule._tick(self._cursor) if running else None
        self._pending: collections.deque[Tick] = collections.deque()
        # Ticks that fell due while the host was down are missed ticks, even while the
        # resumed run runs.
        self._restarted = last_tick is not None

    @property
    def schedule(self) -> Schedule:
        """The schedule."""
        return self._schedule

    @property
    def running(self) -> Tick | None:
        """The tick whose run is running, if any."""
        return self._running

    @property
    def pending(self) -> tuple[Tick, ...]:
        """The ticks waiting for the running one to finish, oldest first."""
        return tuple(self._pending)

    def poll(self) -> Poll:
        """Takes in the ticks due by now and says what to start and when to wake up next.

        Returns:
            A `Poll`. When it has a `start`, that tick is now the running one.
        """
        now = self._now()
        dropped = self._take_due(now)
        return self._decide(now, dropped)

    def finished(self, tick: Tick) -> Poll:
        """Records that the run of `tick` ended (whatever its status), then polls.

        Ticks that fell due before the end met the overlap rule.

        Raises:
            InvalidArgumentError: `tick` is not the running tick.
        """
        if tick != self._running:
            raise InvalidArgumentError(f"{tick!r} is not the running tick ({self._running!r})", "tick")
        now = self._now()
        dropped = self._take_due(now)
        self._running = None
        return self._decide(now, dropped)

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), UTC)

    def _take_due(self, now: dt.datetime) -> list[Drop]:
        if now <= self._cursor:
            return []
        schedule = self._schedule
        reason: Literal["missed", "overlap", "queue_full"]
        if self._running is None or self._restarted:
            keep, reason = (1 if schedule.missed == "skip" else schedule.max_catch_up), "missed"
        elif schedule.overlap == "skip":
            keep, reason = 0, "overlap"
        else:
            keep, reason = schedule.max_catch_up, "queue_full"
        self._restarted = False
        kept, older = schedule._times.newest(self._cursor, now, keep)
        self._cursor = now
        dropped = [] if older is None else [Drop(reason, older.first, older.last, older.count)]
        self._pending.extend(schedule._tick(at) for at in kept)
        overflow = [self._pending.popleft() for _ in range(len(self._pending) - schedule.max_catch_up)]
        if overflow:
            dropped.append(Drop("queue_full", overflow[0].at, overflow[-1].at, len(overflow)))
        return dropped

    def _decide(self, now: dt.datetime, dropped: list[Drop]) -> Poll:
        start = None
        if self._running is None and self._pending:
            start = self._running = self._pending.popleft()
        wake = self._schedule.next_tick(self._cursor)
        wake_at = None if wake is None else wake.at
        wake_in = None if wake_at is None else max(0.0, (wake_at - now).total_seconds())
        return Poll(start, tuple(dropped), wake_at, wake_in, len(self._pending))

    def __repr__(self) -> str:
        running = self._running.run_id if self._running else None
        return (
            f"<ScheduleState {self._schedule.name!r}: ticks after {self._cursor.isoformat()} taken in; "
            f"running {running}; {len(self._pending)} pending>"
        )
