"""A host's side of schedules: restoring a schedule's state from the store after a restart,
recording each tick it starts, and logging and counting the ticks that will not run.

The last tick started is kept twice: in its own record (written when the tick starts) and
as the highest ``sched-<name>-`` run id; the later of the two wins, so a restarted host
never starts a tick again even if its run was pruned or the record write was lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loguru import logger

from zixir._counters import counter
from zixir.observability import events
from zixir.workflow.schedule import Schedule, Tick
from zixir.workflow.schedule_state import Drop, ScheduleState
from zixir.workflow.store import WorkflowStore, pack, unpack

__all__ = ["log_drops", "record_tick", "restore", "schedule_name"]

_DROPPED = counter(
    "zixir_workflow_ticks_dropped", "Schedule ticks that will not run, by reason", ("workflow", "reason")
)
#: The longest schedule name: its tick run ids stay within the 200 characters of a run id.
MAX_NAME = 200 - len("sched--20261202T101500Z")


def schedule_name(workflow: str) -> str:
    """A schedule's default name: the workflow's, each whitespace or unprintable character
    replaced by ``_`` (run ids name the schedule and hold no whitespace)."""
    return "".join("_" if c.isspace() or not c.isprintable() else c for c in workflow)[:MAX_NAME]


def _key(workflow: str, schedule: Schedule) -> bytes:
    return f"{workflow}\x00{schedule.name}".encode()


def record_tick(store: WorkflowStore, workflow: str, schedule: Schedule, tick: Tick) -> None:
    """Records `tick` as the schedule's last started tick."""
    key = _key(workflow, schedule)
    store.write(lambda txn: txn.put(key, pack({"run_id": tick.run_id}), db=store.ticks))


def _last_tick(store: WorkflowStore, workflow: str, schedule: Schedule) -> tuple[str | None, str | None]:
    """The last tick's run id (from its record or the run ids), and that run's status."""
    key = _key(workflow, schedule)
    prefix = f"{workflow}\x00sched-{schedule.name}-".encode()

    def read(txn: Any) -> tuple[str | None, str | None]:
        raw = txn.get(key, db=store.ticks)
        recorded = None if raw is None else unpack(raw, key)["run_id"]
        highest = None
        for run_key, _ in store.scan(txn, store.runs, prefix):
            highest = run_key  # keys sort by tick time: the stamp is fixed-width
        derived = None if highest is None else bytes(highest).decode().split("\x00", 1)[1]
        candidates = [c for c in (recorded, derived) if c is not None and _is_tick(schedule, c)]
        if not candidates:
            return None, None
        last = max(candidates)
        run = store.run(txn, store.run_key(workflow, last))
        return last, None if run is None else run["status"]

    return store.read(read)


def _is_tick(schedule: Schedule, run_id: str) -> bool:
    try:
        schedule.tick_from_run_id(run_id)
    except ValueError:
        return False
    return True


def restore(
    store: WorkflowStore, workflow: str, schedule: Schedule, clock: Callable[[], float]
) -> tuple[ScheduleState, Tick | None]:
    """The schedule's state after a (re)start, and the tick whose run is still unfinished
    (the host resumes it and calls ``state.finished`` when it ends), if any."""
    last, status = _last_tick(store, workflow, schedule)
    if last is None:
        return ScheduleState(schedule, clock=clock), None
    tick = schedule.tick_from_run_id(last)
    running = status == "running"
    state = ScheduleState(schedule, last_tick=tick.at, running=running, clock=clock)
    return state, tick if running else None


def log_drops(workflow: str, schedule: Schedule, drops: tuple[Drop, ...]) -> None:
    """Logs and counts ticks that will not run."""
    for drop in drops:
        count = drop.count if drop.count is not None else 1
        _DROPPED.labels(workflow, drop.reason).inc(count)
        logger.bind(
            event=events.WORKFLOW_TICKS_DROPPED, workflow=workflow, schedule=schedule.name, reason=drop.reason,
            count=drop.count, first=drop.first.isoformat(), last=drop.last.isoformat(),
        ).warning(
            "schedule {} of workflow {}: {} ticks from {} to {} will not run ({})",
            schedule.name, workflow, "over 1000" if drop.count is None else drop.count, drop.first.isoformat(),
            drop.last.isoformat(), drop.reason,
        )  # fmt: skip
