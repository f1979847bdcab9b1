"""Cache against a dict model: random sequences of operations, reopens and shared paths.

The model maps each stored key to (value, expiry). An entry is live while its expiry is
after the fake clock's time; expired entries stay stored (and counted) until deleted,
overwritten or cleared, as in LMDB.
"""

from __future__ import annotations

import copy
import math
import shutil
import tempfile
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from zixir.cache import Cache

Key = str | bytes
OMIT: Any = object()  # put without a ttl argument: the cache's default_ttl applies
INF = math.inf

LONG = "L" * 640  # over LMDB's key limit: stored under its hash
KEYS: list[Key] = ["a", "ab", "b", "é", b"a", b"ab", b"\x00", LONG, LONG[:-1] + "M", LONG.encode()]
PREFIXES: list[Key] = ["", "a", "L", "LL", b"", b"a", b"\x00", "z"]

keys = st.sampled_from(KEYS)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.binary(max_size=6)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
# Sums of these and of the clock steps are exact, so expiries land on the clock exactly.
ttls = st.one_of(st.just(OMIT), st.none(), st.sampled_from([0.25, 0.5, 1.0, 2.0]), st.floats(0.001, 4.0))
default_ttls = st.sampled_from([None, 1.0, 3.0])
memory_sizes = st.sampled_from([10_000, 2, 0])
# Which open object acts (index % count); 2 and 3 also read every key through it first, so
# its memory tier holds everything live when the operation runs.
which = st.integers(0, 3)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1, 1.0 and True are not the same)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    return bool(a == b)


def mutate(value: Any) -> None:
    """Changes the outer lists and dicts of `value`, if any (to prove the cache kept a copy)."""
    if isinstance(value, list):
        value.append("mutated")
    elif isinstance(value, dict):
        value["mutated"] = True
    elif isinstance(value, tuple):
        for item in value:
            mutate(item)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class CacheModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.path = ""
        self.clock = Clock()
        self.caches: list[tuple[Cache, float | None]] = []  # open objects and their default_ttl
        self.stored: dict[Key, tuple[Any, float]] = {}
        self.memory_items: dict[int, int] = {}  # id of an open object -> its memory_items

    # ---- model ------------------------------------------------------------------------

    def live(self) -> dict[Key, Any]:
        return {k: v for k, (v, expires) in self.stored.items() if expires > self.clock.now}

    def pick(self, index: int) -> tuple[Cache, float | None]:
        picked = self.caches[index % len(self.caches)]
        if index >= 2:
            for key in KEYS:
                self.check_get(picked[0], key)
        return picked

    def expiry(self, ttl: Any, default_ttl: float | None) -> float:
        if ttl is OMIT:
            ttl = default_ttl
        return INF if ttl is None else self.clock.now + ttl

    def open(self, default_ttl: float | None, memory_items: int) -> None:
        cache = Cache(self.path, default_ttl=default_ttl, memory_items=memory_items, clock=self.clock)
        self.caches.append((cache, default_ttl))
        self.memory_items[id(cache)] = memory_items

    def check_get(self, cache: Cache, key: Key) -> None:
        live = self.live()
        got = cache.get(key, OMIT)
        if key in live:
            assert same(got, live[key]), (key, got, live[key])
            mutate(got)
        else:
            assert got is OMIT, (key, got)

    # ---- lifecycle --------------------------------------------------------------------

    @initialize(default_ttl=default_ttls, memory_items=memory_sizes, second=st.booleans())
    def start(self, default_ttl: float | None, memory_items: int, second: bool) -> None:
        self.path = tempfile.mkdtemp(prefix="zixir-cache-model-")
        self.open(default_ttl, memory_items)
        if second:  # a second object on the path from the start: sharing is the hard part
            self.open(None, 0)

    def teardown(self) -> None:
        for cache, _ in self.caches:
            cache.close()
        self.caches.clear()
        if self.path:
            shutil.rmtree(self.path, ignore_errors=True)

    @rule(default_ttl=default_ttls, memory_items=memory_sizes)
    def reopen(self, default_ttl: float | None, memory_items: int) -> None:
        """Closes every object (so the environment closes) and reads the files again."""
        for cache, _ in self.caches:
            cache.close()
        self.caches.clear()
        self.open(default_ttl, memory_items)

    @precondition(lambda self: len(self.caches) < 2)
    @rule(default_ttl=default_ttls, memory_items=memory_sizes)
    def open_second(self, default_ttl: float | None, memory_items: int) -> None:
        self.open(default_ttl, memory_items)

    @precondition(lambda self: len(self.caches) > 1)
    @rule(index=which)
    def close_one(self, index: int) -> None:
        cache, _ = self.caches.pop(index % len(self.caches))
        cache.close()

    @rule(seconds=st.sampled_from([0.25, 0.5, 1.0]) | st.floats(0.0, 3.0))
    def advance(self, seconds: float) -> None:
        self.clock.now += seconds

    # ---- operations -------------------------------------------------------------------

    @rule(index=which, key=keys, value=values, ttl=ttls)
    def put(self, index: int, key: Key, value: Any, ttl: Any) -> None:
        cache, default_ttl = self.pick(index)
        if ttl is OMIT:
            cache.put(key, value)
        else:
            cache.put(key, value, ttl=ttl)
        self.stored[key] = (copy.deepcopy(value), self.expiry(ttl, default_ttl))
        mutate(value)  # the cache keeps its own copy

    @rule(index=which, items=st.dictionaries(keys, values, max_size=4), ttl=ttls)
    def put_many(self, index: int, items: dict[Key, Any], ttl: Any) -> None:
        cache, default_ttl = self.pick(index)
        if ttl is OMIT:
            cache.put_many(items)
        else:
            cache.put_many(items, ttl=ttl)
        expires = self.expiry(ttl, default_ttl)
        for key, value in items.items():
            self.stored[key] = (copy.deepcopy(value), expires)

    @rule(index=which, key=keys)
    def get(self, index: int, key: Key) -> None:
        cache, _ = self.pick(index)
        self.check_get(cache, key)
        self.check_get(cache, key)  # a second time: now possibly from the memory tier
        assert (key in cache) == (key in self.live())

    @rule(index=which, wanted=st.lists(keys, max_size=5))
    def get_many(self, index: int, wanted: list[Key]) -> None:
        cache, _ = self.pick(index)
        live = self.live()
        got = cache.get_many(wanted)
        expected = {k: live[k] for k in wanted if k in live}
        assert got.keys() == expected.keys()
        assert all(same(got[k], expected[k]) for k in got), (got, expected)

    @rule(index=which, key=keys)
    def delete(self, index: int, key: Key) -> None:
        cache, _ = self.pick(index)
        assert cache.delete(key) == (key in self.live())  # an expired entry was not there
        self.stored.pop(key, None)

    @rule(index=which, key=keys, value=values, ttl=ttls)
    def get_or_compute(self, index: int, key: Key, value: Any, ttl: Any) -> None:
        cache, default_ttl = self.pick(index)
        live = self.live()
        calls: list[None] = []

        def compute() -> Any:
            calls.append(None)
            return copy.deepcopy(value)

        got = cache.get_or_compute(key, compute) if ttl is OMIT else cache.get_or_compute(key, compute, ttl=ttl)
        if key in live:
            assert not calls and same(got, live[key])
        else:
            assert len(calls) == 1 and same(got, value)
            self.stored[key] = (copy.deepcopy(value), self.expiry(ttl, default_ttl))

    @rule(index=which, prefix=st.sampled_from(PREFIXES), odd_only=st.booleans())
    def invalidate(self, index: int, prefix: Key, odd_only: bool) -> None:
        cache, _ = self.pick(index)

        def odd(key: Key) -> bool:
            return len(key) % 2 == 1

        doomed = [
            k for k in self.live()
            if type(k) is type(prefix) and k.startswith(prefix) and (not odd_only or odd(k))  # type: ignore[arg-type]
        ]  # fmt: skip
        count = cache.invalidate(prefix=prefix, predicate=odd if odd_only else None)
        assert count == len(doomed)
        for key in doomed:
            del self.stored[key]

    @rule(index=which)
    def invalidate_by_predicate(self, index: int) -> None:
        cache, _ = self.pick(index)
        doomed = [k for k in self.live() if isinstance(k, bytes)]
        assert cache.invalidate(predicate=lambda k: isinstance(k, bytes)) == len(doomed)
        for key in doomed:
            del self.stored[key]

    @rule(index=which, prefix=st.sampled_from(PREFIXES))
    def keys_with_prefix(self, index: int, prefix: Key) -> None:
        cache, _ = self.pick(index)
        listed = cache.keys(prefix)
        assert len(listed) == len(set(listed))
        wanted = [k for k in self.live() if type(k) is type(prefix)]
        assert set(listed) == {k for k in wanted if k.startswith(prefix)}  # type: ignore[arg-type]

    @rule(index=which)
    def clear(self, index: int) -> None:
        cache, _ = self.pick(index)
        cache.clear()
        self.stored.clear()

    # ---- invariants -------------------------------------------------------------------

    @invariant()
    def keys_match_the_live_model(self) -> None:
        for cache, _ in self.caches:
            listed = cache.keys()
            assert len(listed) == len(set(listed))
            assert set(listed) == set(self.live())

    @invariant()
    def stats_count_stored_entries(self) -> None:
        for cache, _ in self.caches:
            stats = cache.stats()
            assert stats.entries == len(self.stored)
            assert stats.memory_entries <= self.memory_items[id(cache)]


CacheModel.TestCase.settings = settings(max_examples=400, stateful_step_count=50, deadline=None)
TestCacheModel = CacheModel.TestCase
