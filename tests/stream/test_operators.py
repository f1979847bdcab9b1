"""Every operator's output, sync and async alike; laziness on infinite sources."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from zixir import Stream
from zixir.errors import AsyncSourceError, SourceConsumedError


def both(stream: Stream[Any]) -> list[Any]:
    """The stream's items from a sync run, checked equal to an async run's."""
    sync = stream.to_list()
    assert asyncio.run(stream.ato_list()) == sync
    return sync


PIPELINES: list[tuple[str, Callable[[Stream[int]], Stream[Any]], list[Any]]] = [
    ("map", lambda s: s.map(lambda x: x * 2), [0, 2, 4, 6, 8, 10]),
    ("filter", lambda s: s.filter(lambda x: x % 2), [1, 3, 5]),
    ("flat_map", lambda s: s.take(3).flat_map(lambda x: [x] * x), [1, 2, 2]),
    ("take", lambda s: s.take(2), [0, 1]),
    ("take 0", lambda s: s.take(0), []),
    ("drop", lambda s: s.drop(4), [4, 5]),
    ("take_while", lambda s: s.take_while(lambda x: x < 3), [0, 1, 2]),
    ("drop_while", lambda s: s.drop_while(lambda x: x < 3), [3, 4, 5]),
    ("batch", lambda s: s.batch(4), [[0, 1, 2, 3], [4, 5]]),
    ("scan", lambda s: s.scan(lambda a, x: a + x, 10), [10, 11, 13, 16, 20, 25]),
    ("enumerate", lambda s: s.drop(4).enumerate(1), [(1, 4), (2, 5)]),
    ("tap", lambda s: s.tap(lambda x: None).take(1), [0]),
    ("distinct", lambda s: s.map(lambda x: x % 2).distinct(), [0, 1]),
    ("zip", lambda s: s.zip(Stream("ab")), [(0, "a"), (1, "b")]),
    ("chain", lambda s: s.take(1).chain([9], Stream.range(7, 8)), [0, 9, 7]),
    ("buffer", lambda s: s.buffer(2), [0, 1, 2, 3, 4, 5]),
    ("batch within", lambda s: s.batch(4, within=30.0), [[0, 1, 2, 3], [4, 5]]),
    ("throttle", lambda s: s.throttle(1000.0), [0, 1, 2, 3, 4, 5]),
    ("timeout", lambda s: s.timeout(30.0), [0, 1, 2, 3, 4, 5]),
    ("parallel_map", lambda s: s.parallel_map(lambda x: -x, workers=3), [0, -1, -2, -3, -4, -5]),
    ("mixed", lambda s: s.map(str).filter(lambda x: x != "2").batch(2).map(len), [2, 2, 1]),
]


@pytest.mark.parametrize(("case", "build", "expected"), PIPELINES, ids=[p[0] for p in PIPELINES])
def test_each_operator_gives_the_same_items_in_sync_and_async_runs(
    case: str, build: Callable[[Stream[int]], Stream[Any]], expected: list[Any]
) -> None:
    assert both(build(Stream.range(6))) == expected


def sorted_both(stream: Stream[Any]) -> list[Any]:
    sync = sorted(stream.to_list())
    assert sorted(asyncio.run(stream.ato_list())) == sync
    return sync


def test_unordered_parallel_map_and_merge_give_every_item() -> None:
    assert sorted_both(Stream.range(50).parallel_map(lambda x: x, workers=4, ordered=False)) == list(range(50))
    assert sorted_both(Stream.range(5).merge(range(10, 15), Stream.range(20, 22))) == [
        *range(5),
        *range(10, 15),
        20,
        21,
    ]


def test_operators_are_lazy_and_take_stops_an_infinite_source_after_its_count() -> None:
    calls: list[int] = []
    stream = Stream(itertools.count()).map(lambda x: calls.append(x) or x).filter(lambda x: x % 2 == 0).take(3)
    assert calls == []
    assert stream.to_list() == [0, 2, 4]
    assert calls == [0, 1, 2, 3, 4]  # nothing read past the last item taken


def test_a_stream_runs_again_from_a_reiterable_source_and_refuses_a_consumed_generator() -> None:
    stream = Stream([1, 2]).map(lambda x: x + 1)
    assert stream.to_list() == stream.to_list() == [2, 3]
    once = Stream(x for x in range(3))
    assert once.to_list() == [0, 1, 2]
    with pytest.raises(SourceConsumedError, match=r"Stream\.defer"):
        once.to_list()
    again = Stream.defer(lambda: (x for x in range(3)))
    assert again.to_list() == again.to_list() == [0, 1, 2]


async def letters() -> AsyncIterator[str]:
    for letter in "abc":
        yield letter


def test_a_sync_sink_on_an_async_source_names_the_async_sink() -> None:
    stream = Stream(letters()).map(str.upper)
    with pytest.raises(AsyncSourceError, match=r"ato_list"):
        stream.to_list()
    with pytest.raises(AsyncSourceError, match=r"async for"):
        list(Stream.range(3).amap(asyncio.sleep))
    assert asyncio.run(Stream.defer(letters).map(str.upper).ato_list()) == ["A", "B", "C"]


def test_async_for_and_the_async_sinks() -> None:
    async def main() -> None:
        seen = [x async for x in Stream.defer(letters).enumerate()]
        assert seen == [(0, "a"), (1, "b"), (2, "c")]
        assert await Stream.defer(letters).acount() == 3
        assert await Stream.defer(letters).areduce(lambda a, x: a + x, "") == "abc"
        assert await Stream.defer(letters).afirst() == "a"
        assert await Stream(()).afirst(default=None) is None
        got: list[str] = []
        await Stream.defer(letters).afor_each(got.append)
        assert got == ["a", "b", "c"]

        async def square(x: int) -> int:
            await asyncio.sleep(0)
            return x * x

        assert await Stream.range(20).amap(square, concurrency=4).ato_list() == [x * x for x in range(20)]
        assert sorted(await Stream.range(20).amap(square, concurrency=4, ordered=False).ato_list()) == sorted(
            x * x for x in range(20)
        )

    asyncio.run(main())


def test_sync_sinks() -> None:
    assert Stream.range(5).count() == 5
    assert Stream.range(5).reduce(lambda a, x: a + x, 0) == 10
    assert Stream.range(5).first() == 0
    with pytest.raises(LookupError, match=r"default="):
        Stream(()).first()
    got: list[int] = []
    Stream.range(3).for_each(got.append)
    assert got == [0, 1, 2]


def test_window_groups_items_by_time_and_batch_within_sends_a_partial_batch_on_time() -> None:
    assert Stream.range(5).window(30.0).to_list() == [[0, 1, 2, 3, 4]]
    assert Stream.range(5).window(30.0, max_items=2).to_list() == [[0, 1], [2, 3], [4]]
    import queue

    q: queue.Queue[object] = queue.Queue()
    q.put(1)
    stream = Stream.from_queue(q).batch(10, within=0.05)
    it = iter(stream)
    assert next(it) == [1]  # the source blocks, yet the batch leaves after `within`
    from zixir.stream import END

    q.put(END)
    assert list(it) == []


def test_group_by_routes_items_to_bounded_substreams() -> None:
    groups = [(key, group.to_list()) for key, group in Stream.range(10).group_by(lambda x: x % 3)]
    assert groups == [(0, [0, 3, 6, 9]), (1, [1, 4, 7]), (2, [2, 5, 8])]

    async def main() -> list[Any]:
        return [(key, await group.ato_list()) async for key, group in Stream.range(10).group_by(lambda x: x % 3)]

    assert asyncio.run(main()) == groups


def test_tee_branches_each_see_every_item() -> None:
    a, b = Stream.range(100).tee(2, max_lag=4)
    assert list(zip(a, b)) == [(x, x) for x in range(100)]
    with pytest.raises(SourceConsumedError):
        a.to_list()

    async def main() -> tuple[list[int], list[int]]:
        c, d = Stream.range(50).tee(2, max_lag=3)
        return tuple(await asyncio.gather(c.ato_list(), d.ato_list()))  # type: ignore[return-value]

    first, second = asyncio.run(main())
    assert first == second == list(range(50))
