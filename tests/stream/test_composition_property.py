"""Any composition of map/filter/batch/take/scan over a list matches the same steps on lists."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from zixir import Stream

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("map"), st.integers(-3, 3)),
        st.tuples(st.just("filter"), st.integers(2, 4)),
        st.tuples(st.just("batch"), st.integers(1, 4)),
        st.tuples(st.just("take"), st.integers(0, 20)),
        st.tuples(st.just("scan"), st.integers(-2, 2)),
    ),
    max_size=6,
)


def _key(x: Any) -> int:
    return sum(_key(y) for y in x) if isinstance(x, list) else x


def on_lists(items: list[Any], steps: list[tuple[str, int]]) -> list[Any]:
    for op, arg in steps:
        if op == "map":
            items = [_key(x) + arg for x in items]
        elif op == "filter":
            items = [x for x in items if _key(x) % arg]
        elif op == "batch":
            items = [items[i : i + arg] for i in range(0, len(items), arg)]
        elif op == "take":
            items = items[:arg]
        else:
            items = list(itertools.accumulate(items, lambda a, x, arg=arg: a + _key(x) * arg, initial=0))[1:]
    return items


def on_stream(items: list[Any], steps: list[tuple[str, int]]) -> Stream[Any]:
    stream: Stream[Any] = Stream(items)
    for op, arg in steps:
        if op == "map":
            stream = stream.map(lambda x, arg=arg: _key(x) + arg)
        elif op == "filter":
            stream = stream.filter(lambda x, arg=arg: _key(x) % arg)
        elif op == "batch":
            stream = stream.batch(arg)
        elif op == "take":
            stream = stream.take(arg)
        else:
            stream = stream.scan(lambda a, x, arg=arg: a + _key(x) * arg, 0)
    return stream


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-50, 50), max_size=30), STEPS)
def test_a_composition_matches_the_same_steps_on_plain_lists(items: list[int], steps: list[tuple[str, int]]) -> None:
    expected = on_lists(list(items), steps)
    stream = on_stream(list(items), steps)
    assert stream.to_list() == expected
    assert asyncio.run(stream.ato_list()) == expected
