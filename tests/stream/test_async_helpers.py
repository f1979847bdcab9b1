"""`run_async` from sync code (also inside a running loop's thread) and `gather`'s one
outcome per awaitable, its limit and timeout, with the caller never cancelled."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import zixir
from zixir.errors import ArgumentTypeError, LoopBoundError


async def double(x: int) -> int:
    await asyncio.sleep(0)
    return x * 2


def test_run_async_runs_a_coroutine_from_sync_code_and_raises_its_error() -> None:
    assert zixir.run_async(double(21)) == 42

    async def fail() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        zixir.run_async(fail())


def test_run_async_called_by_sync_code_inside_a_running_loop_does_not_deadlock() -> None:
    def sync_helper() -> int:  # sync code a coroutine calls, as a callback would
        return zixir.run_async(double(5), timeout=5.0)

    async def main() -> tuple[int, int]:
        loop_thread_result = sync_helper()
        return loop_thread_result, await double(1)

    assert asyncio.run(main()) == (10, 2)


def test_run_async_refuses_a_future_of_the_callers_running_loop() -> None:
    async def main() -> str:
        future = asyncio.get_running_loop().create_future()
        with pytest.raises(LoopBoundError, match=r"belongs to the event loop running in this thread.*await it instead"):
            zixir.run_async(future)
        future.cancel()
        return "refused"

    assert asyncio.run(main()) == "refused"


def test_run_async_names_a_coroutine_that_awaits_the_callers_loop() -> None:
    async def main() -> None:
        future = asyncio.get_running_loop().create_future()

        async def waits_on_callers_loop() -> Any:
            return await future

        with pytest.raises(LoopBoundError, match=r"awaited a future of another event loop"):
            zixir.run_async(waits_on_callers_loop(), timeout=5.0)
        future.cancel()

    asyncio.run(main())


def test_run_async_times_out_and_checks_its_arguments() -> None:
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    with pytest.raises(TimeoutError):
        zixir.run_async(hang(), timeout=0.05)
    with pytest.raises(ArgumentTypeError, match=r"^run_async takes a coroutine or another awaitable, got 42$"):
        zixir.run_async(42)  # type: ignore[arg-type]


def test_gather_returns_one_outcome_per_awaitable_in_order_and_errors_do_not_stop_the_rest() -> None:
    async def maybe(x: int) -> int:
        await asyncio.sleep(0)
        if x % 3 == 0:
            raise ValueError(f"no {x}")
        return x

    async def main() -> tuple[list[zixir.Outcome[int]], str]:
        outcomes = await zixir.gather(*(maybe(x) for x in range(7)))
        return outcomes, "caller went on"

    outcomes, after = asyncio.run(main())
    assert after == "caller went on"
    assert len(outcomes) == 7
    assert [o.ok for o in outcomes] == [False, True, True, False, True, True, False]
    assert [o.value for o in outcomes if o.ok] == [1, 2, 4, 5]
    assert str(outcomes[3].error) == "no 3"
    with pytest.raises(ValueError, match="no 6"):
        outcomes[6].unwrap()


def test_gather_runs_at_most_limit_at_once() -> None:
    running = [0, 0]  # now, most

    async def tracked(x: int) -> int:
        running[0] += 1
        running[1] = max(running[1], running[0])
        for _ in range(3):
            await asyncio.sleep(0)
        running[0] -= 1
        return x

    outcomes = asyncio.run(zixir.gather(*(tracked(x) for x in range(50)), limit=4))
    assert [o.unwrap() for o in outcomes] == list(range(50))
    assert running[1] == 4


def test_gather_timeout_cancels_the_late_ones_and_gives_them_a_timeout_outcome() -> None:
    never = None
    cancelled: list[int] = []

    async def slow(x: int) -> int:
        nonlocal never
        if x % 2:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(x)
                raise
        return x

    async def main() -> tuple[list[zixir.Outcome[int]], bool]:
        outcomes = await zixir.gather(*(slow(x) for x in range(6)), timeout=0.05)
        task = asyncio.current_task()
        return outcomes, task is not None and not task.cancelling()

    outcomes, caller_fine = asyncio.run(main())
    assert caller_fine and never is None
    assert [o.value for o in outcomes] == [0, None, 2, None, 4, None]
    assert all(isinstance(outcomes[i].error, TimeoutError) for i in (1, 3, 5))
    assert sorted(cancelled) == [1, 3, 5]


def test_cancelling_the_caller_cancels_every_awaitable_of_gather() -> None:
    started = asyncio.Event
    cancelled: list[int] = []

    async def main() -> None:
        go = started()

        async def wait(x: int) -> None:
            try:
                go.set()
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(x)
                raise

        task = asyncio.ensure_future(zixir.gather(*(wait(x) for x in range(3)), limit=2))
        await go.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert sorted(cancelled) == [0, 1]  # the third never started: the limit held it back


def test_awaitables_the_limit_held_back_past_the_timeout_end_as_timeouts_without_warnings() -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    outcomes = asyncio.run(zixir.gather(hang(), double(1), double(2), limit=1, timeout=0.05))
    assert [type(o.error) for o in outcomes] == [TimeoutError] * 3
