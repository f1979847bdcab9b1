"""Actor sources and sinks keep a bounded number of asks in flight; the cache sink writes
in ``put_many`` batches; throttle paces by its token bucket on an injected clock."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from zixir import Actor, Cache, Stream


class Numbers(Actor):
    """Answers 0, 1, 2... then None; notes how many asks waited behind each one."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.asked = 0
        self.deepest = 0

    def next(self) -> int | None:
        self.deepest = max(self.deepest, self.actor_ref.mailbox_depth())
        n = self.asked
        self.asked += 1
        return n if n < self.count else None

    def figures(self) -> tuple[int, int]:
        return self.asked, self.deepest


class Sink(Actor):
    """Keeps what it is sent; fails on `bad`; notes the deepest mailbox it saw."""

    def __init__(self, bad: int | None = None) -> None:
        super().__init__()
        self.items: list[int] = []
        self.bad = bad
        self.deepest = 0

    def put(self, item: int) -> int:
        self.deepest = max(self.deepest, self.actor_ref.mailbox_depth())
        if item == self.bad:
            raise ValueError(f"bad item {item}")
        sum(range(2_000))  # slower than the producer, so asks would pile up without a bound
        self.items.append(item)
        return len(self.items)

    def figures(self) -> tuple[list[int], int]:
        return self.items, self.deepest


def test_an_actor_source_keeps_at_most_in_flight_asks_outstanding() -> None:
    numbers = Numbers.start(500)
    try:
        assert Stream.from_actor(numbers, "next", in_flight=3).to_list() == list(range(500))
        asked, deepest = numbers.proxy().figures().get()
        assert deepest <= 2  # besides the ask being answered, at most in_flight - 1 wait
        assert 501 <= asked <= 501 + 3
    finally:
        numbers.stop()


def test_an_actor_source_in_an_async_run_is_read_in_a_thread_with_the_same_bound() -> None:
    numbers = Numbers.start(200)
    try:
        got = asyncio.run(Stream.from_actor(numbers, "next", in_flight=2).map(lambda x: x + 1).ato_list())
        assert got == list(range(1, 201))
        assert numbers.proxy().figures().get()[1] <= 1
    finally:
        numbers.stop()


def test_the_actor_sink_never_has_more_than_in_flight_asks_in_the_mailbox() -> None:
    sink = Sink.start()
    try:
        assert Stream.range(2_000).to_actor(sink, "put", in_flight=4) == 2_000
        items, deepest = sink.proxy().figures().get()
        assert items == list(range(2_000))
        assert deepest <= 3
    finally:
        sink.stop()


def test_the_async_actor_sink_has_the_same_bound_and_returns_the_count() -> None:
    sink = Sink.start()
    try:
        assert asyncio.run(Stream.range(1_000).ato_actor(sink, "put", in_flight=2)) == 1_000
        items, deepest = sink.proxy().figures().get()
        assert items == list(range(1_000)) and deepest <= 1
    finally:
        sink.stop()


@pytest.mark.parametrize("run", ["sync", "async"])
def test_an_actor_error_is_raised_by_the_sink_after_the_asks_in_flight_are_answered(run: str) -> None:
    sink = Sink.start(bad=10)
    try:
        with pytest.raises(ValueError, match=r"^bad item 10$"):
            if run == "sync":
                Stream.range(100).to_actor(sink, "put", in_flight=4)
            else:
                asyncio.run(Stream.range(100).ato_actor(sink, "put", in_flight=4))
        items, _ = sink.proxy().figures().get()
        assert items[:10] == list(range(10)) and 10 not in items
        assert len(items) <= 10 + 4  # the run stopped at the error: no more than were in flight
    finally:
        sink.stop()


def _spy(cache: Cache) -> list[int]:
    sizes: list[int] = []
    put_many = cache.put_many

    def recording(items: Any, **kwargs: Any) -> None:
        sizes.append(len(items))
        put_many(items, **kwargs)

    cache.put_many = recording  # type: ignore[method-assign]
    return sizes


@pytest.mark.parametrize("run", ["sync", "async"])
def test_the_cache_sink_writes_put_many_batches_of_the_given_size(tmp_path: Path, run: str) -> None:
    cache = Cache(str(tmp_path / "cache"))
    try:
        sizes = _spy(cache)
        stream = Stream.range(1_050)
        if run == "sync":
            stored = stream.to_cache(cache, key=lambda x: f"k{x}", value=lambda x: {"sq": x * x}, batch=100)
        else:
            stored = asyncio.run(
                stream.ato_cache(cache, key=lambda x: f"k{x}", value=lambda x: {"sq": x * x}, batch=100)
            )
        assert stored == 1_050
        assert sizes == [100] * 10 + [50]
        assert cache.get("k0") == {"sq": 0} and cache.get("k1049") == {"sq": 1049 * 1049}
    finally:
        cache.close()


def test_the_cache_sink_passes_the_ttl_and_stores_the_item_itself_by_default(tmp_path: Path) -> None:
    now = [1_000.0]
    cache = Cache(str(tmp_path / "cache"), clock=lambda: now[0])
    try:
        assert Stream(["a", "b", "c"]).to_cache(cache, key=str.upper, ttl=10.0, batch=2) == 3
        assert cache.get("A") == "a"
        now[0] += 11.0
        assert cache.get("A") is None
    finally:
        cache.close()


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def test_throttle_lets_a_burst_pass_then_spaces_items_by_rate_on_the_injected_clock() -> None:
    fake = FakeTime()
    stream = Stream.range(8).throttle(4, per=2.0, burst=3, clock=fake.clock, sleep=fake.sleep)
    assert stream.to_list() == list(range(8))
    assert fake.slept == [0.5] * 5  # 3 at once, then one token every 2.0 / 4 s
    assert fake.now == pytest.approx(102.5)


def test_throttle_refills_its_bucket_during_a_quiet_spell_and_paces_async_runs_alike() -> None:
    fake = FakeTime()
    stream = Stream.range(6).throttle(2, per=1.0, clock=fake.clock, async_sleep=fake.async_sleep)
    seen: list[int] = []

    async def consume() -> None:
        async for item in stream:
            seen.append(item)
            if item == 2:
                fake.now += 10.0  # a quiet spell: the bucket refills to its burst (2), no more

    asyncio.run(consume())
    assert seen == list(range(6))
    assert fake.slept == [0.5, 0.5]  # items 0-1 burst, 2 waits; 3-4 burst again, 5 waits


def test_throttle_waits_do_not_drop_items_when_the_consumer_is_in_another_thread() -> None:
    fake = FakeTime()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            fake.sleep(seconds)

    out = Stream.range(20).throttle(10, clock=fake.clock, sleep=sleep).buffer(2).to_list()
    assert out == list(range(20)) and sum(fake.slept) == pytest.approx(1.0)
