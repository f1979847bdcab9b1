"""Per-stage error handling (fail, skip, retry), stats and metrics."""

from __future__ import annotations

import asyncio

import pytest

from zixir import RetryPolicy, Stream
from zixir._counters import counters
from zixir.errors import ArgumentTypeError, InvalidArgumentError, ItemTimeoutError


def inverse(x: int) -> float:
    return 1 / x


def test_skip_drops_failing_items_counts_them_and_keeps_the_last_100_errors() -> None:
    stream = Stream.range(-150, 150).map(inverse, name="inverse", on_error="skip")
    assert len(stream.to_list()) == 299
    stats = stream.stats()
    assert stats is not None and stats.outcome == "completed"
    inv = stats.stage("inverse")
    assert (inv.items_in, inv.items_out, inv.errors, inv.skipped) == (300, 299, 1, 1)
    assert isinstance(inv.recent_errors[0], ZeroDivisionError)
    many = Stream.range(250).map(lambda x: 1 / 0, on_error="skip")
    assert many.to_list() == []
    assert len(many.stats().stage("map").recent_errors) == 100  # type: ignore[union-attr]


def test_fail_ends_the_run_and_counts_the_error_at_its_stage() -> None:
    stream = Stream.range(-3, 3).map(lambda x: x).map(inverse, name="inverse")
    with pytest.raises(ZeroDivisionError):
        stream.to_list()
    stats = stream.stats()
    assert stats is not None and stats.outcome == "failed"
    assert stats.stage("inverse").errors == 1 and stats.stage("map").errors == 0


def test_a_retry_policy_retries_an_item_then_fails_the_run() -> None:
    attempts: dict[int, int] = {}

    def flaky(x: int) -> int:
        attempts[x] = attempts.get(x, 0) + 1
        if attempts[x] < 2:
            raise TimeoutError("flaky")
        return x

    policy = RetryPolicy(3, initial_delay=0.001, sleep=lambda s: None)
    assert Stream.range(4).map(flaky, on_error=policy).to_list() == [0, 1, 2, 3]
    assert attempts == {0: 2, 1: 2, 2: 2, 3: 2}
    with pytest.raises(Exception, match=r"gave up"):
        Stream.range(2).map(inverse, on_error=RetryPolicy(2, initial_delay=0.001, sleep=lambda s: None)).to_list()


def test_parallel_map_and_amap_handle_item_errors_by_on_error() -> None:
    assert sorted(Stream.range(-2, 3).parallel_map(inverse, workers=2, on_error="skip").to_list()) == [
        -1.0,
        -0.5,
        0.5,
        1.0,
    ]

    async def ainverse(x: int) -> float:
        return 1 / x

    async def main() -> list[float]:
        return await Stream.range(-2, 3).amap(ainverse, concurrency=2, on_error="skip").ato_list()

    assert asyncio.run(main()) == [-0.5, -1.0, 1.0, 0.5]
    with pytest.raises(ZeroDivisionError):
        asyncio.run(Stream.range(-2, 3).amap(ainverse).ato_list())


def test_timed_streams_measure_stage_time_and_runs_add_to_the_metrics() -> None:
    stream = Stream.range(10).map(lambda x: x, name="metered").timed()
    stream.to_list()
    stage = stream.stats().stage("metered")  # type: ignore[union-attr]
    assert stage.seconds is not None and stage.seconds >= 0
    assert Stream.range(3).map(str).stats() is None
    untimed = Stream.range(3).map(str)
    untimed.to_list()
    assert untimed.stats().stage("map").seconds is None  # type: ignore[union-attr]
    samples = {c.name: dict(c.samples()) for c in counters()}
    assert samples["zixir_stream_items_in"][("metered",)] >= 10
    assert samples["zixir_stream_runs"][("completed",)] >= 1


def test_item_timeout_fails_with_a_typed_error() -> None:
    import queue

    q: queue.Queue[int] = queue.Queue()
    with pytest.raises(ItemTimeoutError, match=r"no item within 0.05s"):
        Stream.from_queue(q).timeout(0.05).to_list()

    async def main() -> None:
        await Stream.from_queue(asyncio.Queue()).timeout(0.05).ato_list()

    with pytest.raises(ItemTimeoutError):
        asyncio.run(main())


def test_bad_arguments_are_typed_errors_that_name_the_argument() -> None:
    with pytest.raises(InvalidArgumentError, match=r'on_error must be "fail", "skip" or a RetryPolicy'):
        Stream.range(3).map(str, on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match=r"use amap"):

        async def coro(x: int) -> int:
            return x

        Stream.range(3).map(coro)
    with pytest.raises(InvalidArgumentError, match=r"overflow must be one of"):
        Stream.range(3).buffer(2, overflow="spill")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^n must be an int >= 1, got 0$"):
        Stream.range(3).batch(0)
    with pytest.raises(ArgumentTypeError, match=r'executor must be "thread" or a zixir.Sandbox'):
        Stream.range(3).parallel_map(str, executor="process")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match=r"iterable"):
        Stream(3)  # type: ignore[arg-type]
