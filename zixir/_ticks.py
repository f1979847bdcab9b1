"""Tick times of workflow schedules: multiples of N seconds since the Unix epoch, or the times a
cron expression matches in a time zone (cronsim, imported on first use), walked in UTC.

Work is bounded by the ticks asked for, not by how many fall in an interval: a host down for
a year with a per-second schedule costs the same as one down for a minute.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import math
from collections.abc import Iterator

__all__ = ["COUNT_LIMIT", "Span", "TickTimes", "cron_problem"]

UTC = dt.UTC
#: Counting skipped cron ticks means walking them; past this many the count is left unknown.
COUNT_LIMIT = 1_000
_LAST_SECOND = int(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
_EARLIEST = dt.datetime.min.replace(tzinfo=UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class Span:
    """Ticks left out: the first and last one's times and how many (None: more than COUNT_LIMIT)."""

    first: dt.datetime
    last: dt.datetime
    count: int | None


def cron_problem(cron: str, zone: dt.tzinfo) -> str | None:
    """What is wrong with `cron` (cronsim's words), or None for an expression that matches."""
    from cronsim import CronSim, CronSimError

    try:
        next(CronSim(cron, dt.datetime(2001, 1, 1, tzinfo=zone)))
    except StopIteration:
        return "it never matches a time; check its day fields"
    except (CronSimError, ValueError, IndexError, KeyError) as exc:
        return str(exc) or type(exc).__name__
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class TickTimes:
    """The tick times of one schedule: `every` seconds, or `cron` read in `zone` (exactly one)."""

    every: int | None
    cron: str | None
    zone: dt.tzinfo

    def forward(self, after: dt.datetime) -> Iterator[dt.datetime]:
        """Tick times strictly after `after` (aware), strictly increasing, in UTC."""
        if self.every is not None:
            step = self.every
            second = (math.floor(after.timestamp()) // step + 1) * step
            while second <= _LAST_SECOND:
                yield dt.datetime.fromtimestamp(second, UTC)
                second += step
            return
        from cronsim import CronSim

        # cronsim walks wall times for fixed-time expressions, so a start inside a repeated
        # hour can yield the hour's first occurrence, which is earlier: keep later instants only.
        last = after
        try:
            for local in CronSim(str(self.cron), after.astimezone(self.zone)):
                at = local.astimezone(UTC)
                if at > last:
                    last = at
                    yield at
        except (OverflowError, ValueError):  # past year 9999
            return

    def newest(self, after: dt.datetime, until: dt.datetime, keep: int) -> tuple[list[dt.datetime], Span | None]:
        """The newest `keep` tick times in (after, until], oldest first, and the older ones' span."""
        if self.every is not None:
            step = self.every
            first = math.floor(after.timestamp()) // step + 1
            last = math.floor(until.timestamp()) // step
            if last < first:
                return [], None
            kept = [dt.datetime.fromtimestamp(k * step, UTC) for k in range(max(first, last - keep + 1), last + 1)]
            left_out = last - first + 1 - len(kept)
            if not left_out:
                return kept, None
            stamp = dt.datetime.fromtimestamp
            return kept, Span(stamp(first * step, UTC), stamp((first + left_out - 1) * step, UTC), left_out)
        # Walk forward from a start that sees keep + 1 ticks, widening the window until it does
        # or reaches `after`. Only the forward walk decides (cronsim's reverse walk differs from
        # it around DST); the reverse walk only picks where to start.
        start = max(after, self._start_hint(until, keep + 1))
        while True:
            window: collections.deque[dt.datetime] = collections.deque(maxlen=keep + 1)
            for at in self.forward(start):
                if at > until:
                    break
                window.append(at)
            if len(window) == keep + 1 or start <= after:
                break
            start = max(after, start - 2 * (until - start) - dt.timedelta(seconds=1))
        if len(window) <= keep:
            return list(window), None
        last_left_out = window.popleft()
        count = None
        for number, at in enumerate(self.forward(after), start=1):
            if at >= last_left_out:
                count = number
                break
            if number >= COUNT_LIMIT:
                break
        return list(window), Span(next(self.forward(after)), last_left_out, count)

    def _start_hint(self, until: dt.datetime, back: int) -> dt.datetime:
        from cronsim import CronSim

        start = until.replace(microsecond=0) + dt.timedelta(seconds=1)
        walk = CronSim(str(self.cron), start.astimezone(self.zone), reverse=True)
        try:
            for _ in range(back):
                start = next(walk).astimezone(UTC)
        except (StopIteration, OverflowError, ValueError):
            return _EARLIEST
        return start - dt.timedelta(seconds=1)
