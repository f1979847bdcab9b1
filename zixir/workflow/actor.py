"""`zixir.WorkflowActor`: hosts workflows in a supervision tree, runs them without blocking
its mailbox, runs their schedules, and resumes the runs an earlier host left unfinished.

A run is claimed in the actor's thread (a bad request fails at once, to the asker) and
executes on its workflow's own workers; a thread per run waits for its end and tells the
actor. When the actor exits (a crash, or a stop), it abandons its runs in flight as a dead
process would: their running steps see ``ctx.cancelled``, and its restart (or the next
host, in another process) takes them over under a new generation and resumes them.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any

import pykka
from loguru import logger

from zixir import _validate
from zixir.actors.actor import Actor
from zixir.actors.messages import ExitReason
from zixir.actors.timers import Timer, TimerService, send_after
from zixir.errors import ArgumentTypeError, InvalidArgumentError, RunOwnedError, TooManyRunsError
from zixir.observability import events
from zixir.workflow import scheduling
from zixir.workflow.execution import Execution
from zixir.workflow.handles import RunHandle, ScheduleInfo
from zixir.workflow.records import RunInfo, RunResult
from zixir.workflow.schedule import Schedule, Tick
from zixir.workflow.schedule_state import Poll, ScheduleState
from zixir.workflow.workflow import Workflow

__all__ = ["WorkflowActor"]


@dataclasses.dataclass(frozen=True, slots=True)
class _Ended:
    key: tuple[str, str]
    execution: Execution


@dataclasses.dataclass(frozen=True, slots=True)
class _Wake:
    key: tuple[str, str]  # (workflow, schedule)


@dataclasses.dataclass(slots=True, eq=False)
class _Flight:
    execution: Execution
    handle: RunHandle
    tick: tuple[str, Tick] | None  # (schedule name, tick) for a scheduled run


@dataclasses.dataclass(slots=True, eq=False)
class _Hosted:
    workflow: Workflow
    schedule: Schedule
    state: ScheduleState
    poll: Poll | None = None
    timer: Timer | None = None


class WorkflowActor(Actor):
    """Hosts workflows in a supervision tree (see the module docstring).

    Args:
        workflows: The workflows it hosts, with their names unique. It does not close
            them: they outlive its restarts.
        max_runs: Runs it executes at once; `run` beyond them raises TooManyRunsError.
            Runs it resumes and scheduled ticks wait for a free slot instead.
        clock: POSIX seconds for the schedules (``time.time``); inject one in tests.
        timers: The `TimerService` that wakes the schedules (the process's by default);
            one built with ``threaded=False`` and the same clock makes tests step time.

    Raises:
        ArgumentTypeError: `workflows` holds something else than Workflows.
        InvalidArgumentError: two workflows have one name, or `max_runs` is below 1.
    """

    def __init__(
        self,
        workflows: Iterable[Workflow],
        *,
        max_runs: int = 16,
        clock: Callable[[], float] = time.time,
        timers: TimerService | None = None,
    ) -> None:
        super().__init__()
        hosted: dict[str, Workflow] = {}
        for wf in workflows:
            if not isinstance(wf, Workflow):
                raise ArgumentTypeError(f"workflows must hold Workflow objects, got {wf!r}", "workflows")
            if wf.name in hosted:
                raise InvalidArgumentError(f"workflows holds two workflows named {wf.name!r}", "workflows")
            hosted[wf.name] = wf
        self._workflows = hosted
        self._max_runs = _validate.whole("max_runs", max_runs)
        self._clock = _validate.function("clock", clock, "a function returning POSIX seconds, like time.time")
        if timers is not None and not isinstance(timers, TimerService):
            raise ArgumentTypeError(f"timers must be a zixir.actors.timers.TimerService, got {timers!r}", "timers")
        self._timers = timers
        self._flights: dict[tuple[str, str], _Flight] = {}
        self._schedules: dict[tuple[str, str], _Hosted] = {}
        self._orphans_left = False
        self._draining = False

    # -- lifetime ---------------------------------------------------------------------------------

    def on_start(self) -> None:
        for wf in self._workflows.values():
            wf.validate()
        resuming: dict[tuple[str, str], str] = {}  # (workflow, run id) -> schedule name
        for wf in self._workflows.values():
            for schedule in wf.schedules:
                state, tick = wf.schedule_state(schedule, self._clock)
                self._schedules[(wf.name, schedule.name)] = _Hosted(wf, schedule, state)
                if tick is not None:
                    resuming[(wf.name, tick.run_id)] = schedule.name
        for (name, run_id), schedule_name in resuming.items():
            hosted = self._schedules[(name, schedule_name)]
            running = hosted.state.running
            assert running is not None
            if not self._resume(hosted.workflow, run_id, (schedule_name, running)):
                self._tick_ended(hosted, running)
        self._resume_orphans()
        for hosted in self._schedules.values():
            if hosted.poll is None:
                self._apply(hosted, hosted.state.poll())

    def on_exit(self, reason: ExitReason) -> None:
        """Abandons the runs in flight (their restart resumes them) and stops the timers."""
        for hosted in self._schedules.values():
            if hosted.timer is not None:
                hosted.timer.cancel()
        flights, self._flights = list(self._flights.values()), {}
        if flights:
            logger.bind(
                event=events.WORKFLOW_RUNS_ABANDONED, actor_class=type(self).__name__, reason=reason.kind,
                runs=len(flights),
            ).warning("{} exited ({}) with {} runs in flight; they resume when it restarts", self, reason.kind,
                      len(flights))  # fmt: skip
        for flight in flights:
            flight.execution.abandon(f"run {flight.handle.run_id!r}: the WorkflowActor hosting it exited ({reason})")

    # -- asked ------------------------------------------------------------------------------------

    def run(
        self, workflow: str, run_id: str | None = None, inputs: Mapping[str, Any] | None = None, *, rerun: bool = False
    ) -> RunHandle:
        """Starts (or resumes) a run, as `Workflow.run`, and returns at once.

        Returns:
            Its `RunHandle`; ``handle.result(timeout)`` waits for its `RunResult`.

        Raises:
            InvalidArgumentError: no hosted workflow of that name.
            TooManyRunsError: `max_runs` runs are in flight.
            RuntimeError: the actor is draining (its host is stopping).
            ZixirError: as `Workflow.run` raises for what claiming the run finds (bad
                inputs, a run owned by a live process, a mismatch).
        """
        wf = self._workflow(workflow)
        if self._draining:
            raise RuntimeError(f"{type(self).__name__} is draining (its host is stopping): it starts no run")
        if len(self._flights) >= self._max_runs:
            raise TooManyRunsError(
                f"{type(self).__name__} runs {len(self._flights)} runs already (max_runs={self._max_runs}): wait "
                "for one to end, or raise max_runs",
                self._max_runs,
            )
        key = (wf.name, run_id) if run_id is not None else None
        if key is not None and key in self._flights:
            return self._flights[key].handle
        return self._launch(wf, wf.begin(run_id, inputs, rerun=rerun), None)

    def drain(self) -> list[RunHandle]:
        """Prepares a stop: no run, tick or step starts any more; running steps finish and commit.

        ``zixir run`` calls it on SIGTERM and waits on the handles up to its drain timeout
        before stopping the tree; runs with steps left stay unfinished and resume when the
        actor starts again (their handles end with RunOwnedError).

        Returns:
            The handles of the runs in flight.
        """
        self._draining = True
        for hosted in self._schedules.values():
            if hosted.timer is not None:
                hosted.timer.cancel()
        for flight in self._flights.values():
            flight.execution.drain()
        return [flight.handle for flight in self._flights.values()]

    def handle(self, workflow: str, run_id: str) -> RunHandle | None:
        """The handle of a run in flight here, or None."""
        flight = self._flights.get((self._workflow(workflow).name, run_id))
        return None if flight is None else flight.handle

    def active(self) -> list[RunHandle]:
        """The handles of the runs in flight here."""
        return [flight.handle for flight in self._flights.values()]

    def status(self, workflow: str, run_id: str) -> RunResult:
        """`Workflow.status`."""
        return self._workflow(workflow).status(run_id)

    def runs(self, workflow: str, status: str | None = None, limit: int = 100) -> list[RunInfo]:
        """`Workflow.runs`."""
        return self._workflow(workflow).runs(status, limit)

    def cancel(self, workflow: str, run_id: str) -> bool:
        """`Workflow.cancel`: the run ends "cancelled"."""
        return self._workflow(workflow).cancel(run_id)

    def workflows(self) -> list[str]:
        """The hosted workflows' names."""
        return list(self._workflows)

    def schedules(self) -> list[ScheduleInfo]:
        """The hosted schedules' states."""
        out = []
        for (workflow, name), hosted in self._schedules.items():
            running = hosted.state.running
            poll = hosted.poll
            out.append(
                ScheduleInfo(
                    workflow, name, None if running is None else running.run_id, len(hosted.state.pending),
                    None if poll is None else poll.wake_at,
                )
            )  # fmt: skip
        return out

    # -- told -------------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Ended):
            return self._ended(message)
        if isinstance(message, _Wake):
            hosted = self._schedules.get(message.key)
            if hosted is not None and not self._draining:
                self._apply(hosted, hosted.state.poll())
            return None
        return super().on_receive(message)

    def _ended(self, message: _Ended) -> None:
        flight = self._flights.get(message.key)
        if flight is None or flight.execution is not message.execution:
            return
        del self._flights[message.key]
        if flight.tick is not None:
            hosted = self._schedules[(message.key[0], flight.tick[0])]
            self._tick_ended(hosted, flight.tick[1])
        if self._draining:
            return
        if self._orphans_left:
            self._resume_orphans()
        self._start_waiting_ticks()

    # -- internals ----------------------------------------------------------------------------------

    def _workflow(self, name: str) -> Workflow:
        wf = self._workflows.get(name)
        if wf is None:
            raise InvalidArgumentError(
                f"{type(self).__name__} hosts no workflow {name!r}; it hosts {sorted(self._workflows)}", "workflow"
            )
        return wf

    def _launch(self, wf: Workflow, execution: Execution, tick: tuple[str, Tick] | None) -> RunHandle:
        future: Future[RunResult] = Future()
        handle = RunHandle(wf.name, execution.run_id, future)
        key = (wf.name, execution.run_id)
        self._flights[key] = _Flight(execution, handle, tick)
        ref: pykka.ActorRef[Any] = self.actor_ref

        def drive() -> None:
            result: RunResult | None = None
            error: BaseException | None = None
            try:
                result = execution.execute()
            except BaseException as exc:
                error = exc
            try:  # told first: whoever saw the handle end then asks after the actor knows
                ref.tell(_Ended(key, execution))
            except pykka.ActorDeadError:
                pass  # its host exited: the run was abandoned with it
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        threading.Thread(target=drive, name=f"zixir-wf-{wf.name}-{execution.run_id}", daemon=True).start()
        return handle

    def _resume(self, wf: Workflow, run_id: str, tick: tuple[str, Tick] | None) -> bool:
        """Takes over and resumes a run; False if it cannot be (another owner runs it)."""
        try:
            execution = wf.begin(run_id)
        except RunOwnedError:
            return False  # another owner took it over meanwhile: it runs there
        except Exception as exc:  # one run that cannot resume must not keep the host from starting
            logger.bind(
                event=events.WORKFLOW_RUN_NOT_RESUMED, workflow=wf.name, run_id=run_id, error_type=type(exc).__name__
            ).warning("workflow {} run {} was not resumed: {}", wf.name, run_id, exc)
            return False
        logger.bind(
            event=events.WORKFLOW_RUN_RESUMED, workflow=wf.name, run_id=run_id, generation=execution.generation
        ).info("workflow {} run {} resumed (generation {})", wf.name, run_id, execution.generation)
        self._launch(wf, execution, tick)
        return True

    def _resume_orphans(self) -> None:
        self._orphans_left = False
        for wf in self._workflows.values():
            for run_id in wf.orphaned_runs(limit=self._max_runs + 1):
                if (wf.name, run_id) in self._flights:
                    continue
                if len(self._flights) >= self._max_runs:
                    self._orphans_left = True
                    return
                tick = self._tick_of(wf, run_id)
                self._resume(wf, run_id, tick)

    def _tick_of(self, wf: Workflow, run_id: str) -> tuple[str, Tick] | None:
        for (name, schedule_name), hosted in self._schedules.items():
            running = hosted.state.running
            if name == wf.name and running is not None and running.run_id == run_id:
                return schedule_name, running
        return None

    def _apply(self, hosted: _Hosted, poll: Poll) -> None:
        """Acts on a poll: logs its drops, starts its tick, sets the wake-up timer."""
        hosted.poll = poll
        scheduling.log_drops(hosted.workflow.name, hosted.schedule, poll.dropped)
        if hosted.timer is not None:
            hosted.timer.cancel()
            hosted.timer = None
        if poll.wake_in is not None:
            message = _Wake((hosted.workflow.name, hosted.schedule.name))
            if self._timers is None:
                hosted.timer = send_after(self.actor_ref, message, poll.wake_in)
            else:
                hosted.timer = self._timers.send_after(self.actor_ref, message, poll.wake_in)
        if poll.start is not None:
            self._start_tick(hosted, poll.start)

    def _start_tick(self, hosted: _Hosted, tick: Tick) -> None:
        if len(self._flights) >= self._max_runs:
            return  # waits for a slot: `_start_waiting_ticks`
        wf, schedule = hosted.workflow, hosted.schedule
        try:
            wf.tick_started(schedule, tick)
            execution = wf.begin(tick.run_id, schedule.inputs_for(tick) if wf.inputs else None)
        except Exception as exc:
            logger.bind(
                event=events.WORKFLOW_TICK_NOT_STARTED, workflow=wf.name, schedule=schedule.name,
                run_id=tick.run_id, error_type=type(exc).__name__,
            ).opt(exception=exc).warning("schedule {} of workflow {}: tick {} did not start: {}", schedule.name,
                                         wf.name, tick.run_id, exc)  # fmt: skip
            self._tick_ended(hosted, tick)
            return
        self._launch(wf, execution, (schedule.name, tick))  # a tick that ran before ends at once

    def _tick_ended(self, hosted: _Hosted, tick: Tick) -> None:
        self._apply(hosted, hosted.state.finished(tick))

    def _start_waiting_ticks(self) -> None:
        for hosted in self._schedules.values():
            running = hosted.state.running
            if running is None or (hosted.workflow.name, running.run_id) in self._flights:
                continue
            if len(self._flights) >= self._max_runs:
                return
            self._start_tick(hosted, running)
