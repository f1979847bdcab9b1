"""The cache collector: figures read from plain counters, and a bounded set of series."""

from __future__ import annotations

from pathlib import Path

import pytest

from zixir.cache import Cache, metrics
from zixir.errors import InvalidArgumentError
from zixir.observability.metrics import exposition


def _hit_series(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith("zixir_cache_hits_total{"):
            labels, _, value = line.rpartition(" ")
            found[labels.split('path="', 1)[1].rsplit('"', 1)[0]] = float(value)
    return found


def test_churning_through_paths_keeps_the_series_bounded_and_the_counts(tmp_path: Path) -> None:
    metrics.set_retired_paths(5)
    try:
        counts = []
        for i in range(2000):
            with Cache(tmp_path / str(i), memory_items=0, map_size=1 << 20) as cache:
                cache.put("k", i)
                assert cache.get("k") == i
            if i in (999, 1999):
                counts.append(_hit_series(exposition()))
        after_1000, after_2000 = counts
        assert len(after_1000) == len(after_2000)
        assert [p for p in after_2000 if p.startswith(str(tmp_path.resolve()))] == [
            str((tmp_path / str(i)).resolve()) for i in range(1995, 2000)
        ]  # the most recently closed paths keep their own series
        assert after_2000[metrics.OTHER] - after_1000[metrics.OTHER] == 1000  # none lost
    finally:
        metrics.set_retired_paths(metrics.RETIRED_PATHS)


def test_a_path_still_open_keeps_its_series_when_others_are_folded(tmp_path: Path) -> None:
    kept_path = str((tmp_path / "kept").resolve())
    metrics.set_retired_paths(0)  # earlier tests' closed paths: all folded now
    before = _hit_series(exposition()).get(metrics.OTHER, 0.0)
    metrics.set_retired_paths(2)  # kept, still open, takes one place
    try:
        with Cache(tmp_path / "kept") as kept:
            with Cache(tmp_path / "kept") as closing:
                closing.put("k", 1)
                assert closing.get("k") == 1
            for name in ("a", "b", "c"):
                with Cache(tmp_path / name) as other:
                    other.put("k", 1)
                    assert other.get("k") == 1
            series = _hit_series(exposition())
            assert series[kept_path] == 1  # the closed object's hit, kept while `kept` is open
            assert kept.get("k") == 1 and _hit_series(exposition())[kept_path] == 2
        assert series[metrics.OTHER] - before == 2  # a and b, folded
        assert series[str((tmp_path / "c").resolve())] == 1
    finally:
        metrics.set_retired_paths(metrics.RETIRED_PATHS)


def test_the_bound_is_checked() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^retired_paths must be an int >= 0, got -1$"):
        metrics.CacheCollector(retired_paths=-1)
