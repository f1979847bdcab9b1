"""Per-stage figures of a stream run: items in and out, errors, skipped items and time,
readable from the stream while it runs and added to the stream metrics when it ends."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zixir import _counters

__all__ = ["RECENT_ERRORS", "PipelineStats", "Point", "RunStats", "StageStats", "Tally"]

#: How many skipped errors each stage keeps (the most recent ones).
RECENT_ERRORS = 100

_ITEMS_IN = _counters.counter("zixir_stream_items_in", "Items that entered a stream stage", ("stage",))
_ITEMS_OUT = _counters.counter("zixir_stream_items_out", "Items that left a stream stage", ("stage",))
_ERRORS = _counters.counter("zixir_stream_errors", "Item errors in a stream stage (failed or skipped)", ("stage",))
_SKIPPED = _counters.counter("zixir_stream_skipped", "Items a stream stage skipped after an error", ("stage",))
_SECONDS = _counters.counter("zixir_stream_stage_seconds", "Seconds spent in a stream stage's work", ("stage",))
_RUNS = _counters.counter("zixir_stream_runs", "Stream runs that ended, by outcome", ("outcome",))


class Point:
    """The number of items that passed one point of a pipeline.

    The stage (or sink) that consumes the items counts them: each point has one writer.
    """

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    @property
    def value(self) -> int:
        """The items counted so far."""
        return self.n


@dataclass(frozen=True, slots=True)
class StageStats:
    """One stage's figures for one run.

    Attributes:
        name: The stage's name (its operator's unless named with ``name=``).
        operator: The operator, e.g. ``"map"``.
        items_in: Items the stage received.
        items_out: Items the stage passed on.
        errors: Item errors in the stage (skipped or not).
        skipped: Items dropped after an error (``on_error="skip"``) or by an overflow strategy.
        seconds: Time spent in the stage's own work: its function calls (when timing is on,
            see `Stream.timed`), or its workers' busy time for concurrent stages; None when
            not measured.
        recent_errors: The last `RECENT_ERRORS` skipped errors, oldest first.
    """

    name: str
    operator: str
    items_in: int
    items_out: int
    errors: int
    skipped: int
    seconds: float | None
    recent_errors: tuple[BaseException, ...]


@dataclass(frozen=True, slots=True)
class PipelineStats:
    """Every stage's figures for one run, in pipeline order, and how the run went.

    Attributes:
        stages: One StageStats per stage, source first.
        running: True while the run goes on.
        outcome: None while running; then ``"completed"``, ``"failed"`` or ``"cancelled"``
            (the consumer stopped early: a break, ``take``, a cancelled task).
        seconds: Wall-clock seconds from the start of the run to its end (or to now).
    """

    stages: tuple[StageStats, ...]
    running: bool
    outcome: str | None
    seconds: float

    def stage(self, name: str) -> StageStats:
        """The figures of the first stage called `name`.

        Raises:
            KeyError: No stage has that name.
        """
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage is named {name!r}; the stages are {[s.name for s in self.stages]}")


class Tally:
    """The live figures of one stage in one run; the stage's code updates them."""

    __slots__ = ("errors", "inp", "name", "operator", "out", "recent", "seconds", "skipped", "timed")

    def __init__(self, name: str, operator: str, inp: Point, *, timed: bool) -> None:
        self.name = name
        self.operator = operator
        self.inp = inp
        self.out = inp  # a 1:1 stage shares its input's point; others set their own
        self.errors = 0
        self.skipped = 0
        self.seconds = 0.0
        self.timed = timed
        self.recent: deque[BaseException] | None = None

    def skip(self, error: BaseException) -> None:
        """Counts an item dropped after `error` and keeps the error among the recent ones."""
        self.errors += 1
        self.skipped += 1
        if self.recent is None:
            self.recent = deque(maxlen=RECENT_ERRORS)
        self.recent.append(error)

    def timer(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, adding the time of each call to this stage when timing is on."""
        if not self.timed:
            return fn
        clock = time.perf_counter

        def timed(*args: Any) -> Any:
            start = clock()
            try:
                return fn(*args)
            finally:
                self.seconds += clock() - start

        return timed

    def snapshot(self, measured: bool) -> StageStats:
        return StageStats(
            self.name,
            self.operator,
            self.inp.value,
            self.out.value,
            self.errors,
            self.skipped,
            self.seconds if measured or self.timed else None,
            tuple(self.recent or ()),
        )


class RunStats:
    """The tallies of one run of a pipeline and its outcome."""

    def __init__(self) -> None:
        self.tallies: list[Tally] = []
        self.concurrent: set[int] = set()  # indexes of stages that always measure time
        self.started = time.perf_counter()
        self.ended: float | None = None
        self.outcome: str | None = None
        self._lock = threading.Lock()

    def add(self, tally: Tally, *, measures_time: bool = False) -> Tally:
        if measures_time:
            self.concurrent.add(len(self.tallies))
        self.tallies.append(tally)
        return tally

    def snapshot(self) -> PipelineStats:
        ended = self.ended if self.ended is not None else time.perf_counter()
        return PipelineStats(
            tuple(t.snapshot(i in self.concurrent) for i, t in enumerate(self.tallies)),
            self.outcome is None,
            self.outcome,
            ended - self.started,
        )

    def finish(self, outcome: str, error: BaseException | None = None) -> None:
        """Ends the run once: attributes a failing error to its stage, adds to the metrics."""
        with self._lock:
            if self.outcome is not None:
                return
            self.outcome = outcome
            self.ended = time.perf_counter()
        _RUNS.labels(outcome).inc()
        for index, tally in enumerate(self.tallies):
            if error is not None and getattr(error, "_zixir_stage", None) is tally:
                tally.errors += 1
            stats = tally.snapshot(index in self.concurrent)
            if stats.items_in:
                _ITEMS_IN.labels(tally.name).inc(stats.items_in)
            if stats.items_out:
                _ITEMS_OUT.labels(tally.name).inc(stats.items_out)
            if stats.errors:
                _ERRORS.labels(tally.name).inc(stats.errors)
            if stats.skipped:
                _SKIPPED.labels(tally.name).inc(stats.skipped)
            if stats.seconds:
                _SECONDS.labels(tally.name).inc(stats.seconds)
