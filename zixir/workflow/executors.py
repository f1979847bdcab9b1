"""Where a step's attempt runs: a thread (abandoned at its timeout), an event loop (cancelled
at its timeout), a sandboxed worker process (killed at its timeout), or a Ray task
(`zixir.ray.steps`: cancelled at its timeout).
"""

from __future__ import annotations

import asyncio
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from loguru import logger

from zixir._counters import counter
from zixir.errors import AbandonedThreadsError, SandboxError, StepTimeoutError
from zixir.observability import events
from zixir.tracing._context import CURRENT, run_in
from zixir.workflow.spec import Step

if TYPE_CHECKING:
    from zixir.ray.steps import Finished, RaySteps
    from zixir.sandbox import Sandbox

__all__ = ["AttemptFailed", "Executors"]

_ABANDONED = counter(
    "zixir_workflow_abandoned_threads", "Thread steps abandoned at their timeout (still running, result discarded)"
)


class AttemptFailed(Exception):
    """An attempt's error and its traceback text (from the worker process, for process steps)."""

    def __init__(self, error: BaseException, text: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.text = text


def _failed(error: BaseException) -> AttemptFailed:
    return AttemptFailed(error, "".join(traceback.format_exception(error)))


class Executors:
    """A workflow's means of running attempts: its abandoned threads (at most `max_workers`
    exist at once), its event loop thread (started on first use), its sandboxes (one per
    distinct timeout and limits, started on first use) and its steps in flight on Ray.

    Args:
        workflow: The workflow's name, for thread names and logs.
        max_workers: The workflow's worker count: also the bound on abandoned threads.
        allow_pickle: Whether process steps' results may come back by pickle.
    """

    def __init__(self, workflow: str, max_workers: int, allow_pickle: bool) -> None:
        self.workflow = workflow
        self.max_abandoned = max_workers
        self.process_workers = max_workers
        self.allow_pickle = allow_pickle
        self.abandoned: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: threading.Thread | None = None
        self.sandboxes: dict[tuple[Any, ...], Sandbox] = {}
        self.ray: RaySteps | None = None

    def call(self, step: Step, kwargs: dict[str, Any], cancelled: threading.Event | None) -> Any:
        """Runs one attempt of `step` with `kwargs`.

        Raises:
            AttemptFailed: the attempt failed (its error may be a StepTimeoutError, or an
                AbandonedThreadsError when it was refused).
        """
        if step.executor == "thread":
            if step.timeout is None:
                try:
                    return step.fn(**kwargs)
                except Exception as error:
                    raise _failed(error) from error
            return self._thread_with_timeout(step, kwargs, cancelled)
        if step.executor == "async":
            return self._async(step, kwargs)
        assert step.executor == "process", "a Ray step's attempts are submitted, not called"
        return self._process(step, kwargs)

    def ray_steps(self, sink: Callable[[list[Finished]], None]) -> RaySteps:
        """The workflow's steps on Ray (made on first use, handing finished attempts to `sink`)."""
        with self.lock:
            if self.ray is None:
                from zixir.ray.steps import RaySteps  # on first use: Ray loads only for Ray steps

                self.ray = RaySteps(self.workflow, self.allow_pickle, sink)
            return self.ray

    # -- threads ------------------------------------------------------------------------------

    def abandoned_count(self) -> int:
        """Abandoned threads still running."""
        with self.lock:
            self.abandoned = [thread for thread in self.abandoned if thread.is_alive()]
            return len(self.abandoned)

    def _thread_with_timeout(self, step: Step, kwargs: dict[str, Any], cancelled: threading.Event | None) -> Any:
        if self.abandoned_count() >= self.max_abandoned:
            raise _failed(
                AbandonedThreadsError(
                    f"step {step.name!r} was not started: {self.max_abandoned} threads of workflow "
                    f"{self.workflow!r} abandoned at their timeouts still run (at most max_workers="
                    f"{self.max_abandoned}); use executor='process' for code that must be stopped",
                    step.name,
                    self.max_abandoned,
                )
            )
        box: list[Any] = []
        done = threading.Event()

        context = CURRENT.get()  # the attempt's span: the step's own spans are its children

        def target() -> None:
            try:
                box.append((True, run_in(context, lambda: step.fn(**kwargs))))
            except BaseException as error:
                box.append((False, error))
            finally:
                done.set()

        thread = threading.Thread(target=target, name=f"zixir-wf-{self.workflow}-{step.name}", daemon=True)
        thread.start()
        if not done.wait(step.timeout):
            with self.lock:
                self.abandoned.append(thread)
            _ABANDONED.inc()
            if cancelled is not None:
                cancelled.set()  # the step may watch ctx.cancelled and return early
            logger.warning(
                "workflow {workflow}: step {step} passed its timeout of {timeout}s; its thread is abandoned",
                event=events.WORKFLOW_STEP_ABANDONED, workflow=self.workflow, step=step.name, timeout=step.timeout,
            )  # fmt: skip
            assert step.timeout is not None
            raise _failed(_timeout(step, "its thread was abandoned and its late result will be discarded"))
        ok, value = box[0]
        if ok:
            return value
        raise _failed(value) from value

    # -- async --------------------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            if self.loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=f"zixir-wf-{self.workflow}-loop", daemon=True)
                thread.start()
                self.loop, self.loop_thread = loop, thread
            return self.loop

    def _async(self, step: Step, kwargs: dict[str, Any]) -> Any:
        loop = self._ensure_loop()

        async def attempt() -> Any:
            if step.timeout is None:
                return await step.fn(**kwargs)
            try:
                return await asyncio.wait_for(step.fn(**kwargs), step.timeout)
            except TimeoutError as exc:
                raise _timeout(step, "it was cancelled") from exc

        future = asyncio.run_coroutine_threadsafe(attempt(), loop)
        try:
            return future.result()
        except FutureTimeout as error:  # only if the loop was stopped under it
            raise _failed(error) from error
        except Exception as error:
            raise _failed(error) from error

    # -- processes ----------------------------------------------------------------------------

    def _sandbox(self, step: Step) -> Sandbox:
        key = (step.timeout, *sorted(step.limits.items()))
        with self.lock:
            sandbox = self.sandboxes.get(key)
            if sandbox is None:
                from zixir.sandbox import Sandbox  # on first use: defining a workflow stays cheap

                sandbox = Sandbox(
                    timeout=step.timeout, workers=self.process_workers, allow_pickle=self.allow_pickle, **step.limits
                )
                self.sandboxes[key] = sandbox
            return sandbox

    def _process(self, step: Step, kwargs: dict[str, Any]) -> Any:
        result = self._sandbox(step).run(step.fn, **kwargs)
        if result.ok:
            return result.value
        if result.reason == "timeout":
            error: BaseException = _timeout(step, "its worker process was killed")
        elif result.reason == "exception" and result.error is not None:
            error = result.error
        else:
            error = SandboxError(
                f"step {step.name!r}: the sandboxed call failed ({result.reason}): {result.error}", result
            )
        text = result.traceback or "".join(traceback.format_exception(error))
        raise AttemptFailed(error, text)

    def close(self) -> None:
        """Stops the event loop, closes the sandboxes and cancels the Ray tasks in flight
        (abandoned threads run on; they are daemons)."""
        with self.lock:
            loop, thread, self.loop, self.loop_thread = self.loop, self.loop_thread, None, None
            sandboxes, self.sandboxes = list(self.sandboxes.values()), {}
            ray, self.ray = self.ray, None
        if ray is not None:
            ray.close()
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5.0)
            if not thread.is_alive():
                loop.close()
        for sandbox in sandboxes:
            sandbox.close()


def _timeout(step: Step, what: str) -> StepTimeoutError:
    return StepTimeoutError(
        f"step {step.name!r} took longer than its timeout of {step.timeout}s: {what}",
        step.name,
        step.timeout or 0.0,
    )


def call_condition(condition: Callable[..., Any], kwargs: dict[str, Any]) -> bool:
    """Whether a step's condition holds for its arguments."""
    return bool(condition(**kwargs))
