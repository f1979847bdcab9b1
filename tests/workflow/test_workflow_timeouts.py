"""Timeouts: a thread step is abandoned (bounded), an async step cancelled, a process step killed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import wf_programs

from zixir import RetryPolicy
from zixir.workflow import StepContext, Workflow


def test_a_thread_step_past_its_timeout_is_abandoned_and_its_late_result_discarded(
    make: Callable[..., Workflow],
) -> None:
    wf = make(max_workers=1)
    release, noticed = threading.Event(), threading.Event()
    saw_cancel: list[bool] = []

    def stuck(ctx: StepContext) -> str:
        saw_cancel.append(ctx.cancelled.wait(30))  # set at the timeout
        noticed.set()
        release.wait(30)
        return "late"

    wf.add_step("stuck", stuck, timeout=0.2, retry=RetryPolicy(max_attempts=2, initial_delay=0.0))
    result = wf.run(run_id="r")
    assert result.status == "failed"
    record = result.steps["stuck"]
    assert record.attempts == 2
    # max_workers=1: one abandoned thread is the most allowed, so the retry is refused at once
    assert (record.error or "").startswith("AbandonedThreadsError: step 'stuck' was not started: 1 threads")
    assert noticed.wait(30)  # the abandoned thread runs on: it sees the cancel in its own time
    assert saw_cancel == [True]
    release.set()
    assert wf.status("r").outputs == {}


def test_a_timed_out_thread_step_fails_with_a_step_timeout_error(make: Callable[..., Workflow]) -> None:
    wf = make()
    release = threading.Event()
    wf.add_step("stuck", lambda: release.wait(30), timeout=0.1)
    result = wf.run()
    release.set()
    assert (result.steps["stuck"].error or "").startswith(
        "StepTimeoutError: step 'stuck' took longer than its timeout of 0.1s: its thread was abandoned"
    )


def test_an_async_step_past_its_timeout_is_cancelled(make: Callable[..., Workflow]) -> None:
    wf = make()
    cancelled = threading.Event()

    async def slow() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "done"

    async def quick(x: int = 20) -> int:
        await asyncio.sleep(0)
        return x + 1

    wf.add_step("slow", slow, timeout=0.1, on_error="continue", fallback="gave up")
    wf.add_step("quick", quick)
    result = wf.run()
    assert result.outputs == {"slow": "gave up", "quick": 21}
    assert cancelled.is_set()
    assert (result.steps["slow"].error or "").startswith("StepTimeoutError: step 'slow' took longer")


def test_a_process_step_past_its_timeout_is_killed(make: Callable[..., Workflow]) -> None:
    wf = make(inputs=("seconds", "x"))
    wf.add_step("sleepy", wf_programs.sleepy, executor="process", timeout=0.5, on_error="continue")
    wf.add_step("doubled", wf_programs.doubled, executor="process", limits={"memory": "256MB"})
    result = wf.run(inputs={"seconds": 30.0, "x": 21})
    assert result.outputs == {"sleepy": None, "doubled": 42}
    assert (result.steps["sleepy"].error or "").startswith(
        "StepTimeoutError: step 'sleepy' took longer than its timeout of 0.5s: its worker process was killed"
    )
