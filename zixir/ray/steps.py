"""Workflow steps as Ray tasks, seen from the coordinator: `RaySteps.submit` sends an
attempt to Ray and returns at once; one waiter thread per workflow watches every task in
flight with ``ray.wait``, cancels those past their timeout or whose run stopped, and hands
the finished ones over in batches (`Finished`), so no thread waits per task.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loguru import logger

from zixir._counters import counter
from zixir.errors import RayTaskLostError, StepTimeoutError
from zixir.observability import events
from zixir.ray import failures, worker
from zixir.ray._runtime import require_ray
from zixir.ray.connection import RayConnection, require_connection
from zixir.tracing import wire

if TYPE_CHECKING:
    from zixir.workflow.spec import Step

__all__ = ["IDLE", "MAX_IN_FLIGHT", "POLL", "Finished", "RaySteps"]

#: Seconds between the waiter's looks at the tasks in flight (sooner when all of them
#: finished): what finished meanwhile is handed over as one batch (one commit), and a task
#: submitted meanwhile, a timeout or a stopped run is noticed within this.
POLL = 0.01
#: Attempts of one workflow in flight on Ray at most (submitted, not handed over yet); a
#: thread submitting past it waits until one ends. A fan-out larger than this is fed to
#: Ray as its items end, instead of all at once.
MAX_IN_FLIGHT = 10_000
#: Seconds the waiter thread stays with nothing in flight before it exits.
IDLE = 5.0

_ARGUMENTS = counter(
    "zixir_workflow_ray_arguments",
    "Arguments sent to Ray steps' tasks: by reference to an upstream Ray step's output in Ray's object store, "
    "or by value",
    ("passed",),
)
_BY_REFERENCE = _ARGUMENTS.labels(passed="reference")
_BY_VALUE = _ARGUMENTS.labels(passed="value")


@dataclass(slots=True, eq=False)
class Finished:
    """An attempt's end, as the waiter hands it over.

    Attributes:
        context: What `RaySteps.submit` was given for it.
        value: The step's output (when it succeeded).
        ref: The ObjectRef of what the task returned (the output, or a `worker.WithSpans`
            of it), to pass to later Ray steps (when it succeeded).
        error: Why it failed: the step's own exception (`failures.original`), a
            `StepTimeoutError`, or a `RayTaskLostError`; None when it succeeded.
        text: The failure's traceback text (the remote one for the step's exception).
        interrupted: Its run stopped under it: the task was cancelled and nothing is to be
            committed for it.
    """

    context: Any
    value: Any = None
    ref: Any = None
    error: BaseException | None = None
    text: str = ""
    interrupted: bool = False


@dataclass(slots=True, eq=False)
class _Call:
    step: Step
    context: Any
    handle: Any  # the ObjectRef of its output (or WithSpans), or a timed task's ObjectRefGenerator
    timed: bool
    stop: threading.Event | None
    deadline: float | None = None
    started: bool = False


class RaySteps:
    """A workflow's steps in flight on Ray, and their waiter thread (see the module docstring).

    Args:
        workflow: The workflow's name, for logs.
        allow_pickle: Whether sandboxed steps' outputs may come back by pickle.
        sink: Called from the waiter thread with each batch of finished attempts; it must
            not raise.
    """

    def __init__(self, workflow: str, allow_pickle: bool, sink: Callable[[list[Finished]], None]) -> None:
        self.workflow = workflow
        self.allow_pickle = allow_pickle
        self.sink = sink
        self._cond = threading.Condition()
        self.max_in_flight = MAX_IN_FLIGHT
        self._in_flight = 0  # submitted or being submitted, not handed over
        self._incoming: list[_Call] = []
        self._watching: dict[Any, _Call] = {}  # owned by the waiter thread
        self._thread: threading.Thread | None = None
        self._closed = False
        self._remotes: dict[tuple[Step, tuple[str, ...]], tuple[RayConnection, Any]] = {}  # ~one per step

    def submit(
        self,
        step: Step,
        kwargs: Mapping[str, Any],
        upstream: Collection[str],
        context: Any,
        stop: threading.Event | None,
    ) -> None:
        """Sends one attempt of `step` to Ray; its end reaches the sink with `context`.

        The arguments named in `upstream` are the `Finished.ref` of upstream Ray steps:
        Ray resolves them on the worker, from its object store. While `stop` is unset the
        task runs to its end or its timeout; once set, the task is cancelled and reported
        interrupted.

        Raises:
            RayNotConnectedError: this process is not connected to a Ray cluster.
            Exception: Ray refused the task (an argument it cannot serialize, an unknown
                node in the placement...).
        """
        ray = require_ray(f"step {step.name!r} of workflow {self.workflow!r}")
        names = tuple(kwargs)
        remote = self._remote(ray, step, names)
        values = tuple(kwargs.values())
        trace = worker.encode_trace(wire.context_out())
        with self._cond:
            while self._in_flight >= self.max_in_flight and not self._closed:
                self._cond.wait()  # backpressure: the waiter makes room as tasks end
            if self._closed:
                raise self._closed_error(step)
            self._in_flight += 1
        try:
            # ObjectRefs must be top-level arguments for Ray to resolve them; without any,
            # one argument holding all is cheaper for Ray to send than several (step_task)
            handle = remote.remote(trace, *values) if upstream else remote.remote([trace, *values])
        except BaseException:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()
            raise
        if upstream:
            _BY_REFERENCE.inc(len(upstream))
        if len(values) > len(upstream):
            _BY_VALUE.inc(len(values) - len(upstream))
        call = _Call(step, context, handle, step.timeout is not None, stop)
        with self._cond:
            self._incoming.append(call)
            if self._thread is None:
                self._thread = threading.Thread(target=self._wait, name=f"zixir-wf-{self.workflow}-ray", daemon=True)
                self._thread.start()
            else:
                self._cond.notify()

    def _remote(self, ray: Any, step: Step, names: tuple[str, ...]) -> Any:
        """The step's Ray remote function, made once per step, argument names (the same on
        every call but for defaults) and connection."""
        connection = require_connection(f"step {step.name!r} of workflow {self.workflow!r}")
        made = self._remotes.get((step, names))
        if made is not None and made[0] is connection:
            return made[1]
        options: dict[str, Any] = {} if step.placement is None else step.placement.ray_options()
        timed = step.timeout is not None
        task = worker.step_task(step.name, step.fn, step.limits, self.allow_pickle, names, timed=timed)
        remote = ray.remote(
            max_retries=0,  # retries are the step's RetryPolicy: one owner of the policy
            num_returns="streaming" if timed else 1,
            name=f"zixir.step {self.workflow}.{step.name}",
            **options,
        )(task)
        self._remotes[(step, names)] = (connection, remote)
        return remote

    def in_flight(self) -> int:
        """Attempts submitted (or being submitted) and not handed over yet."""
        with self._cond:
            return self._in_flight

    def close(self) -> None:
        """Cancels the tasks in flight (each reported failed: the workflow was closed) and
        stops the waiter thread."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()  # the waiter, and threads waiting for room to submit
        if thread is not None:
            thread.join()

    # -- the waiter thread ------------------------------------------------------------------

    def _wait(self) -> None:
        import ray

        watching = self._watching
        while True:
            with self._cond:
                if not self._incoming and not watching and not self._closed:
                    self._cond.wait(IDLE)
                for call in self._incoming:
                    watching[call.handle] = call
                self._incoming.clear()
                if self._closed or not watching:
                    closed = self._closed
                    calls = list(watching.values())
                    watching.clear()
                    self._thread = None
                    break
            finished = self._sweep(ray, watching)
            if watching:
                finished += self._collect(ray, watching)
            if finished:
                self._hand_over(finished)
        if closed and calls:
            for call in calls:
                _cancel(ray, call.handle)
            self._hand_over([self._failed(call, self._closed_error(call.step)) for call in calls])

    def _closed_error(self, step: Step) -> RayTaskLostError:
        return RayTaskLostError(
            f"step {step.name!r}: its Ray task was cancelled: workflow {self.workflow!r} was closed",
            step.name,
            "cancelled",
        )

    def _sweep(self, ray: Any, watching: dict[Any, _Call]) -> list[Finished]:
        """Cancels the tasks past their timeout and those whose run stopped."""
        finished: list[Finished] = []
        now = time.monotonic()
        for handle, call in list(watching.items()):
            if call.stop is not None and call.stop.is_set():
                del watching[handle]
                _cancel(ray, handle)
                finished.append(Finished(call.context, interrupted=True))
            elif call.deadline is not None and now >= call.deadline:
                del watching[handle]
                _cancel(ray, handle)
                step = call.step
                logger.warning(
                    "workflow {workflow}: step {step} passed its timeout of {timeout}s; its Ray task was cancelled",
                    event=events.RAY_STEP_CANCELLED, workflow=self.workflow, step=step.name, timeout=step.timeout,
                )  # fmt: skip
                error = StepTimeoutError(
                    f"step {step.name!r} took longer than its timeout of {step.timeout}s: its Ray task was cancelled",
                    step.name,
                    step.timeout or 0.0,
                )
                finished.append(self._failed(call, error))
        return finished

    def _collect(self, ray: Any, watching: dict[Any, _Call]) -> list[Finished]:
        """Waits up to `POLL` (or the next deadline) for tasks to end; returns those that did."""
        wait = POLL
        deadlines = [c.deadline for c in watching.values() if c.deadline is not None]
        if deadlines:
            wait = min(wait, max(0.0, min(deadlines) - time.monotonic()))
        handles = list(watching)
        try:  # one batch: what finished within the wait
            ready, _ = ray.wait(handles, num_returns=len(handles), timeout=wait)
        except Exception as exc:  # the connection is gone: every task in flight is lost
            calls = list(watching.values())
            watching.clear()
            return [self._lost(call, exc) for call in calls]
        finished: list[Finished] = []
        plain: list[_Call] = []
        for handle in ready:
            call = watching[handle]
            if call.timed:
                self._advance(ray, call, watching, finished)
            else:
                del watching[handle]
                plain.append(call)
        if plain:
            finished += self._fetch(ray, plain)
        return finished

    def _fetch(self, ray: Any, calls: list[_Call]) -> list[Finished]:
        """The outputs and spans of finished tasks: one ``ray.get`` for the batch, or one
        each when any of them failed."""
        try:
            got = ray.get([call.handle for call in calls])
        except Exception:
            got = None
        finished = []
        for index, call in enumerate(calls):
            if got is not None:
                value = got[index]
            else:
                try:
                    value = ray.get(call.handle)
                except Exception as exc:
                    finished.append(self._error(call, exc))
                    continue
            finished.append(self._returned(call, value, call.handle))
        return finished

    def _advance(self, ray: Any, call: _Call, watching: dict[Any, _Call], finished: list[Finished]) -> None:
        """A timed task yielded: that it started (its timeout's clock starts), or its output."""
        gen = call.handle
        try:
            ref = next(gen)
            if not call.started:
                ray.get(ref)  # STARTED, or the error of a task that failed to start
                call.started = True
                assert call.step.timeout is not None
                call.deadline = time.monotonic() + call.step.timeout
                return
            del watching[gen]
            value = ray.get(ref)
        except StopIteration:
            watching.pop(gen, None)
            finished.append(self._lost(call, RuntimeError("the task ended without yielding its output")))
            return
        except Exception as exc:
            watching.pop(gen, None)
            finished.append(self._error(call, exc))
            return
        finished.append(self._returned(call, value, ref))

    def _returned(self, call: _Call, value: Any, ref: Any) -> Finished:
        if type(value) is worker.WithSpans:
            wire.receive(value.spans)
            value = value.output
        return Finished(call.context, value, ref)

    def _error(self, call: _Call, error: BaseException) -> Finished:
        """A task's failure: the step's own exception (with its remote traceback and spans),
        or the task lost."""
        if failures.cause_of(error) != "exception":
            return self._lost(call, error)
        original = failures.original(error)
        report = getattr(original, worker.REPORT, None)
        if isinstance(report, tuple) and len(report) == 2:
            spans, text = report
            if isinstance(spans, bytes):
                wire.receive(spans)
            with contextlib.suppress(AttributeError):  # no report on it: nothing to remove
                delattr(original, worker.REPORT)
        else:
            text = getattr(error, "traceback_str", None) or str(error)
        return Finished(call.context, error=original, text=str(text))

    def _lost(self, call: _Call, error: BaseException) -> Finished:
        cause = failures.cause_of(error) if _is_ray_error(error) else "unavailable"
        lost = RayTaskLostError(
            f"step {call.step.name!r}: its Ray task failed ({cause}): {error}", call.step.name, cause
        )
        lost.__cause__ = error
        return self._failed(call, lost)

    def _failed(self, call: _Call, error: BaseException) -> Finished:
        return Finished(call.context, error=error, text="".join(traceback.format_exception(error)))

    def _hand_over(self, finished: list[Finished]) -> None:
        try:
            self.sink(finished)
        except Exception as exc:  # the sink must not raise; if it does, the waiter lives on
            logger.opt(exception=exc).error("workflow {}: handing over finished Ray steps failed", self.workflow)
        with self._cond:
            self._in_flight -= len(finished)
            self._cond.notify_all()  # room for threads waiting to submit


def _cancel(ray: Any, handle: Any) -> None:
    """Force-cancels a task (its worker process is killed); a task Ray no longer knows, or a
    connection gone, leaves nothing to cancel."""
    with contextlib.suppress(Exception):
        ray.cancel(handle, force=True)


def _is_ray_error(error: BaseException) -> bool:
    from ray import exceptions as rex

    return isinstance(error, rex.RayError)
