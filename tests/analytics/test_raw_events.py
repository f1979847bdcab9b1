"""Raw events: kept only when asked, bounded by count and by age, under churn."""

from __future__ import annotations

from pathlib import Path

import pytest

from zixir import Cache
from zixir.analytics import Experiment
from zixir.errors import ArgumentTypeError, InvalidArgumentError


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    c = Cache(tmp_path / "raw")
    yield c
    c.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _stored(cache: Cache, name: str) -> int:
    return len(cache.keys(f"zixir.experiment/{name}/ev/"))


def test_no_events_are_kept_unless_asked(cache: Cache) -> None:
    exp = Experiment("quiet", {"a": 1, "b": 1}, store=cache)
    exp.record("u1", "clicks", 2.0)
    assert exp.events() == [] and _stored(cache, "quiet") == 0


def test_events_come_back_as_recorded_oldest_first(cache: Cache) -> None:
    clock = Clock()
    exp = Experiment("kept", {"a": 1, "b": 1}, store=cache, events=10, clock=clock)
    exp.record("u1", "clicks", 2.0)
    clock.now += 1
    exp.record("u2", "spend", 9.5)
    got = exp.events()
    assert [(e.at, e.unit, e.variant, e.metric, e.value, e.counted) for e in got] == [
        (1000.0, "u1", exp.assign("u1"), "clicks", 2.0, True),
        (1001.0, "u2", exp.assign("u2"), "spend", 9.5, True),
    ]
    assert [e.unit for e in exp.events("spend")] == ["u2"]


def test_the_count_bound_holds_under_churn(cache: Cache) -> None:
    exp = Experiment("churn", {"a": 1, "b": 1}, store=cache, events=50)
    for i in range(1000):
        exp.record(f"u{i % 97}", "clicks", float(i))
    kept = exp.events()
    assert [e.value for e in kept] == [float(i) for i in range(950, 1000)]
    assert _stored(cache, "churn") == 50
    # Reopened with a smaller bound: the next write trims to it.
    small = Experiment("churn", {"a": 1, "b": 1}, store=cache, events=5)
    small.record("u1", "clicks", 1.0)
    assert _stored(cache, "churn") == 5 and len(small.events()) == 5


def test_the_age_bound_drops_old_events_from_the_store(cache: Cache) -> None:
    clock = Clock()
    exp = Experiment("aged", {"a": 1, "b": 1}, store=cache, events=1000, event_retention=60.0, clock=clock)
    for i in range(300):
        exp.record(f"u{i}", "clicks", 1.0)
        clock.now += 1.0
    # Events older than 60 s at the last write are gone from the store, not only hidden.
    assert _stored(cache, "aged") == 61
    clock.now += 30.0
    assert len(exp.events()) == 30  # read-time: the ones older than 60 s now are left out
    assert [e.at for e in exp.events()] == [1000.0 + i for i in range(270, 300)]


def test_event_settings_are_checked(cache: Cache) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^event_retention needs events=N"):
        Experiment("bad", {"a": 1, "b": 1}, store=cache, event_retention=5.0)
    with pytest.raises(InvalidArgumentError, match=r"^events must be at most"):
        Experiment("bad", {"a": 1, "b": 1}, store=cache, events=10**9)
    with pytest.raises((ArgumentTypeError, InvalidArgumentError)):
        Experiment("bad", {"a": 1, "b": 1}, store=cache, events=-1)
    with pytest.raises((ArgumentTypeError, InvalidArgumentError)):
        Experiment("bad", {"a": 1, "b": 1}, store=cache, events=5, event_retention=0)
