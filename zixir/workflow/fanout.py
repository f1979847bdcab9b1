"""Fan-out steps (``map_over``): one task per item of the step they map over, each item
committed on its own, the step's output gathered in order once the last item is done.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from zixir.workflow.dag import PlannedStep
from zixir.workflow.outcomes import StepOutcome
from zixir.workflow.tasks import Task

if TYPE_CHECKING:
    from zixir.workflow.runner import Runner

__all__ = ["fan_out", "gathered", "item_done"]

#: An item whose output is not there yet.
MISSING: Any = object()


def fan_out(runner: Runner, task: Task) -> Task | None:
    """Starts a fan-out step: its items not done yet become tasks (the first for this thread)."""
    planned = task.planned
    state = runner.states[planned.index]
    skipped = runner.attempts.skipped(runner, planned)
    if skipped is not None:
        return runner.commit([skipped])
    over = planned.spec.map_over or ""
    source = runner.states[runner.plan.by_name[over].index].output
    try:
        values = list(source)
    except TypeError as exc:
        error = TypeError(
            f"step {planned.spec.name!r} maps over the output of {over!r}, a {type(source).__qualname__}, "
            "which is not iterable"
        )
        error.__cause__ = exc
        return runner.commit(runner.attempts.gave_up(runner, task, error, 0, None))
    with runner.cond:
        done = state.items or []
        state.items = [done[i] if i < len(done) else MISSING for i in range(len(values))]
        todo = [i for i, output in enumerate(state.items) if output is MISSING]
        state.left = len(todo)
        if not todo:
            state.resolved = True
    if not todo:
        return runner.commit([gathered(runner, planned, counted=True)])
    tasks = [Task(planned, i, values[i], state.item_attempts.get(i, 0)) for i in todo]
    with runner.cond:
        if runner.stopping is not None:
            runner.running -= 1
            runner.check_over()
            return None
        runner.enqueue(tasks[1:], tasks[0])
    return tasks[0]


def item_done(runner: Runner, outcome: StepOutcome) -> list[StepOutcome]:
    """An item's outcome, plus its step's own when it was the last (or failed the run)."""
    planned, item = outcome.planned, outcome.item
    assert item is not None
    state = runner.states[planned.index]
    with runner.cond:
        assert state.items is not None
        if outcome.status != "failed":
            state.items[item] = outcome.value
        state.item_records[item] = outcome.record  # before gathering: the step's status reads it
        state.left -= 1
        end = outcome.status == "failed" or state.left == 0
        if not end or state.resolved:
            return [outcome]
        state.resolved = True
    if outcome.status == "failed":
        failed = StepOutcome(
            planned, None, "failed", None, dict(outcome.record, output=None),
            runner.store.step_key(runner.workflow, runner.run_id, planned.spec.name), counted=False,
        )  # fmt: skip
        return [outcome, failed]
    return [outcome, gathered(runner, planned, counted=False)]


def gathered(runner: Runner, planned: PlannedStep, *, counted: bool) -> StepOutcome:
    """A fan-out step's own outcome: its items' outputs, in order."""
    state = runner.states[planned.index]
    values = list(state.items or [])
    records = list(state.item_records.values())
    continued = any(r.get("status") == "failed_continued" for r in records)
    status = "failed_continued" if continued else "succeeded"
    output = runner.attempts.encode(planned, values)
    record = {
        "status": status, "attempts": sum(r.get("attempts", 0) for r in records), "start": None,
        "end": time.time(), "output": output if planned.spec.checkpoint else None, "error": None,
        "traceback": None, "cached": False, "items": len(values),
    }  # fmt: skip
    key = runner.store.step_key(runner.workflow, runner.run_id, planned.spec.name)
    return StepOutcome(planned, None, status, values, record, key, counted=counted)
