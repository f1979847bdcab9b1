"""Workflow schedules: when ticks fall due, which missed ticks run, and what happens to a tick
that falls due while the previous run is still running. Pure logic with an injected clock.

`Schedule` is the validated spec behind ``wf.schedule(...)``; `ScheduleState`
(`zixir.workflow.schedule_state`) is the per-schedule bookkeeping its host (the
WorkflowActor) polls. A tick's run id derives from its time
(``sched-<name>-20261202T101500Z``), so a restarted host that resumes from the last tick it
started never starts a tick twice.

Cron expressions are evaluated by cronsim (imported on first use, from zixir._ticks), chosen
over croniter. Both are maintained now (croniter moved to pallets-eco after its author
abandoned it in 2025), but croniter's DST handling has a long record of bugs, and version 7
still runs a daily ``30 2 * * *`` twice on a fall-back day; it also needs python-dateutil and
ships no type hints. cronsim, written for the Healthchecks cron monitor, has no dependencies,
ships type hints, follows Debian cron's documented DST rules, refuses impossible expressions
(``0 0 30 2 *``) when parsed, and walks ticks about 4x faster than croniter (9x for the first).

DST, following cronsim (and Debian cron): an expression whose minute and hour fields are both
fixed (neither starts with ``*``) follows the wall clock: a time that does not exist runs at
the first minute after the gap, and a time that happens twice runs once, at its first
occurrence. Any other expression (``*/5 * * * *``, ``0 */2 * * *``, any with a seconds field)
follows real time: a wall time skipped by the gap has no tick, a repeated one has two ticks,
an hour apart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from zixir import _ticks, _validate
from zixir.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["MAX_EVERY", "UTC", "Schedule", "Tick", "aware"]

UTC = dt.UTC
#: The longest `every`, in seconds (366 days); longer periods are cron expressions.
MAX_EVERY = 366 * 86_400
_STAMP = "%Y%m%dT%H%M%SZ"
_MISSED = ("skip", "catch_up")
_OVERLAP = ("skip", "queue")

Inputs = Mapping[str, object] | Callable[["Tick"], Mapping[str, object]]


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Tick:
    """One due time of a schedule.

    Attributes:
        at: The scheduled time, aware, in UTC, whole seconds.
        run_id: The workflow run id for this tick: sortable, the same in every process.
    """

    at: dt.datetime
    run_id: str


def aware(name: str, value: object) -> dt.datetime:
    """`value`, a timezone-aware datetime, in UTC.

    Raises:
        ArgumentTypeError: It is not a datetime.
        InvalidArgumentError: It is naive (argument `name`).
    """
    if not isinstance(value, dt.datetime):
        raise ArgumentTypeError(f"{name} must be a datetime, got {value!r}", name)
    if value.utcoffset() is None:
        raise InvalidArgumentError(
            f"{name} must be timezone-aware, got the naive {value!r}; pass tzinfo=datetime.UTC", name
        )
    return value.astimezone(UTC)


def _zone(tz: object) -> dt.tzinfo:
    if tz is None:
        return UTC
    if isinstance(tz, (zoneinfo.ZoneInfo, dt.timezone)):
        return tz
    if not isinstance(tz, str):
        raise ArgumentTypeError(
            f"tz must be a time zone name such as 'Europe/Paris' or a zoneinfo.ZoneInfo, got {tz!r}", "tz"
        )
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidArgumentError(
            f"tz={tz!r} is not a known time zone; use an IANA name such as 'Europe/Paris' "
            "(where the system has no time zone database, pip install tzdata)",
            "tz",
        ) from exc


def _check_cron(cron: object, zone: dt.tzinfo) -> None:
    if not isinstance(cron, str):
        raise ArgumentTypeError(f"cron must be a str such as '*/5 * * * *', got {cron!r}", "cron")
    problem = _ticks.cron_problem(cron, zone)
    if problem is not None:
        raise InvalidArgumentError(
            f"cron={cron!r} is not a valid cron expression ({problem}); write 5 fields, minute hour "
            "day-of-month month day-of-week, such as '*/5 * * * *'",
            "cron",
        )


def _every(every: object) -> int:
    if isinstance(every, dt.timedelta):
        every = every.total_seconds()
    seconds = _validate.number("every", every, above=0)
    if seconds < 1 or not seconds.is_integer():
        raise InvalidArgumentError(
            f"every must be a whole number of seconds >= 1 (run ids have one-second resolution), got {every!r}",
            "every",
        )
    if seconds > MAX_EVERY:
        raise InvalidArgumentError(
            f"every must be at most {MAX_EVERY} seconds (366 days), got {every!r}; use cron= for longer periods",
            "every",
        )
    return int(seconds)


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Schedule:
    """When a workflow runs by itself: every N seconds, or on a cron expression in a time zone.

    ``every`` ticks fall on multiples of `every` seconds since the Unix epoch (every=3600: on
    the hour, UTC), whenever the host started. Validated when built.

    Args:
        name: Names the ticks' run ids (``sched-<name>-<UTC time>``): printable, no whitespace.
        every: Seconds between ticks (an int, an integral float or a timedelta; 1 to 366 days).
        cron: A cron expression: 5 fields (minute hour day-of-month month day-of-week), or 6
            with seconds first; names (``MON``, ``JAN``), ``L``, ``LW``, ``5L`` and ``MON#2``.
        tz: The time zone the cron expression reads the clock in: an IANA name or a
            ``zoneinfo.ZoneInfo``; UTC if omitted. Only for cron.
        inputs: The runs' inputs: a mapping, or a function of the `Tick` returning one.
        missed: Which ticks missed while nothing polled (the host was down) run: "skip" runs
            only the latest; "catch_up" runs the latest `max_catch_up`, oldest first.
        max_catch_up: The most missed ticks run by "catch_up", and the most ticks waiting
            under ``overlap="queue"``.
        overlap: A tick due while the previous run still runs: "skip" drops it, "queue" runs
            it after. Runs of one schedule never overlap.

    Raises:
        ArgumentTypeError: An argument has the wrong type.
        InvalidArgumentError: Neither or both of every and cron, an invalid or never-matching
            cron expression, an unknown tz, tz without cron, or a value out of range.
    """

    name: str
    every: int | None
    cron: str | None
    tz: dt.tzinfo | None
    inputs: Inputs | None = dataclasses.field(compare=False)
    missed: Literal["skip", "catch_up"]
    max_catch_up: int
    overlap: Literal["skip", "queue"]
    _times: _ticks.TickTimes = dataclasses.field(repr=False, compare=False)

    def __init__(
        self,
        name: str,
        *,
        every: float | dt.timedelta | None = None,
        cron: str | None = None,
        tz: str | dt.tzinfo | None = None,
        inputs: Inputs | None = None,
        missed: Literal["skip", "catch_up"] = "skip",
        max_catch_up: int = 10,
        overlap: Literal["skip", "queue"] = "skip",
    ) -> None:
        if not isinstance(name, str):
            raise ArgumentTypeError(f"name must be a str, got {name!r}", "name")
        if not name or not name.isprintable() or any(c.isspace() for c in name):
            raise InvalidArgumentError(f"name must be printable text without whitespace, got {name!r}", "name")
        if (every is None) == (cron is None):
            raise InvalidArgumentError(
                f"pass exactly one of every=seconds or cron='*/5 * * * *', got every={every!r}, cron={cron!r}",
                "every" if every is not None else "cron",
            )
        zone: dt.tzinfo | None = None
        if every is not None:
            every = _every(every)
            if tz is not None:
                raise InvalidArgumentError(
                    f"tz={tz!r} applies to cron schedules only: every= ticks count seconds since "
                    "the Unix epoch; use cron= for local times",
                    "tz",
                )
        else:
            zone = _zone(tz)
            _check_cron(cron, zone)
        if isinstance(inputs, Mapping):
            inputs = types.MappingProxyType(_input_dict(inputs))
        elif inputs is not None and not callable(inputs):
            raise ArgumentTypeError(
                f"inputs must be a mapping or a function of the Tick returning one, got {inputs!r}", "inputs"
            )
        if missed not in _MISSED:
            raise InvalidArgumentError(f"missed must be 'skip' or 'catch_up', got {missed!r}", "missed")
        if overlap not in _OVERLAP:
            raise InvalidArgumentError(f"overlap must be 'skip' or 'queue', got {overlap!r}", "overlap")
        _validate.whole("max_catch_up", max_catch_up)
        fields = {
            "name": name,
            "every": every,
            "cron": cron,
            "tz": zone,
            "inputs": inputs,
            "missed": missed,
            "max_catch_up": max_catch_up,
            "overlap": overlap,
            "_times": _ticks.TickTimes(every, cron, zone or UTC),
        }
        for field, value in fields.items():
            object.__setattr__(self, field, value)

    # -- ticks ------------------------------------------------------------------------------

    def run_id(self, at: dt.datetime) -> str:
        """The run id of the tick at `at` (aware): ``sched-<name>-YYYYMMDDTHHMMSSZ``."""
        return f"sched-{self.name}-{aware('at', at).strftime(_STAMP)}"

    def tick_from_run_id(self, run_id: str) -> Tick:
        """The tick a run id of this schedule names, such as the latest one a store holds.

        Raises:
            InvalidArgumentError: `run_id` is not a tick run id of this schedule.
        """
        prefix = f"sched-{self.name}-"
        try:
            if not run_id.startswith(prefix):
                raise ValueError(run_id)
            at = dt.datetime.strptime(run_id[len(prefix) :], _STAMP).replace(tzinfo=UTC)
        except (ValueError, AttributeError) as exc:
            raise InvalidArgumentError(
                f"run_id={run_id!r} is not a tick of schedule {self.name!r}; tick run ids look like "
                f"{prefix}20261202T101500Z",
                "run_id",
            ) from exc
        return Tick(at, run_id)

    def next_tick(self, after: dt.datetime) -> Tick | None:
        """The first tick strictly after `after` (aware), or None if the cron expression never
        matches again."""
        at = next(self._times.forward(aware("after", after)), None)
        return None if at is None else self._tick(at)

    def ticks(self, after: dt.datetime, until: dt.datetime) -> Iterator[Tick]:
        """Every tick in (`after`, `until`], oldest first, computed lazily."""
        start, end = aware("after", after), aware("until", until)
        for at in self._times.forward(start):
            if at > end:
                return
            yield self._tick(at)

    def inputs_for(self, tick: Tick) -> dict[str, object]:
        """The inputs of the run for `tick`.

        Raises:
            ArgumentTypeError: The `inputs` function returned something other than a mapping
                with str keys.
        """
        if self.inputs is None:
            return {}
        if isinstance(self.inputs, Mapping):
            return dict(self.inputs)
        made = self.inputs(tick)
        if not isinstance(made, Mapping):
            raise ArgumentTypeError(f"the inputs function must return a mapping, got {made!r}", "inputs")
        return _input_dict(made)

    def _tick(self, at: dt.datetime) -> Tick:
        return Tick(at, f"sched-{self.name}-{at.strftime(_STAMP)}")


def _input_dict(inputs: Mapping[Any, object]) -> dict[str, object]:
    checked: dict[str, object] = {}
    for key, value in inputs.items():
        if not isinstance(key, str):
            raise ArgumentTypeError(f"inputs keys must be input names (str), got {key!r}", "inputs")
        checked[key] = value
    return checked
