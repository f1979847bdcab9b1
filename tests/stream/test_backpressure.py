"""A fast producer never runs further ahead of a slow consumer than the stage's bound."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.stream.stream_support import wait_for_no_stream_threads
from zixir import Stream
from zixir.errors import BufferFullError


class Producer:
    """A source that records how far it ran ahead of what the consumer took."""

    def __init__(self) -> None:
        self.produced = 0
        self.consumed = 0
        self.ahead = 0

    def __iter__(self) -> Iterator[int]:
        while self.produced < 2_000:
            self.produced += 1
            self.ahead = max(self.ahead, self.produced - self.consumed)
            yield self.produced

    def take(self, item: object) -> None:
        self.consumed += len(item) if isinstance(item, list) else 1


# (operator, bound on items produced and not yet consumed)
BOUNDED: list[tuple[str, Callable[[Stream[int]], Stream[Any]], int]] = [
    ("buffer(8)", lambda s: s.buffer(8), 8 + 2),  # the buffer, the item the reader holds, the consumer's
    ("parallel_map workers=3", lambda s: s.parallel_map(lambda x: x, workers=3, buffer=2), 3 + 2 + 1),
    ("timeout", lambda s: s.timeout(30.0), 1 + 2),
    ("batch within", lambda s: s.batch(5, within=30.0), 5 + 2),
    ("map|filter", lambda s: s.map(lambda x: x).filter(lambda x: True), 1),
]


@pytest.mark.parametrize(("case", "build", "bound"), BOUNDED, ids=[b[0] for b in BOUNDED])
def test_a_producer_runs_ahead_of_a_slow_consumer_by_the_bound_at_most(
    case: str, build: Callable[[Stream[int]], Stream[Any]], bound: int
) -> None:
    producer = Producer()
    for item in build(Stream.defer(lambda: iter(producer))):
        producer.take(item)
    assert producer.consumed == 2_000
    assert producer.ahead <= bound


def test_amap_and_async_parallel_map_take_at_most_concurrency_plus_buffer() -> None:
    async def main(build: Callable[[Stream[int]], Stream[Any]]) -> int:
        producer = Producer()
        async for item in build(Stream.defer(lambda: iter(producer))):
            producer.take(item)
            await asyncio.sleep(0)
        return producer.ahead

    async def echo(x: int) -> int:
        await asyncio.sleep(0)
        return x

    assert asyncio.run(main(lambda s: s.amap(echo, concurrency=4, buffer=3))) <= 4 + 3 + 1
    assert asyncio.run(main(lambda s: s.parallel_map(lambda x: x, workers=2, buffer=2))) <= 2 + 2 + 1


def test_overflow_strategies_drop_or_fail_when_the_consumer_lags() -> None:
    for overflow in ("drop_oldest", "drop_newest"):
        stream = Stream.range(1_000).buffer(4, overflow=overflow)  # type: ignore[arg-type]
        it = iter(stream)  # the reader starts with the run
        assert wait_for_no_stream_threads()  # it read everything, dropping the overflow
        rest = list(it)
        assert rest == ([996, 997, 998, 999] if overflow == "drop_oldest" else [0, 1, 2, 3])
        assert stream.stats().stage("buffer").skipped == 1_000 - 4  # type: ignore[union-attr]

    failing = Stream.range(1_000).buffer(2, overflow="fail")
    it = iter(failing)
    assert wait_for_no_stream_threads()  # the reader stopped at the overflow
    with pytest.raises(BufferFullError, match=r"buffer of 2 items was full"):
        list(it)


def test_a_group_that_is_never_read_overflows_its_buffer() -> None:
    stream = Stream.range(100).group_by(lambda x: x % 2, buffer=10)
    with pytest.raises(BufferFullError, match=r"group 0 .* holds 10 unread items"):
        stream.to_list()
    dropped = Stream.range(100).group_by(lambda x: x % 2, buffer=10, overflow="drop_oldest")
    groups = dropped.to_list()
    assert [g.to_list() for _, g in groups] == [list(range(80, 100, 2)), list(range(81, 100, 2))]
