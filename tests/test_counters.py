"""Zixir's plain counters: exact under threads, bounded in label sets, exported on scrape."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from zixir import _counters
from zixir.errors import InvalidArgumentError
from zixir.metrics import exposition


@pytest.fixture
def few_series() -> Iterator[int]:
    before = _counters.max_series()
    _counters.set_max_series(5)
    yield 5
    _counters.set_max_series(before)


def test_eight_threads_incrementing_one_counter_lose_no_increment() -> None:
    series = _counters.counter("zixir_test_threaded", "test", ("worker",)).labels("all")
    start = series.value
    go = threading.Barrier(8)

    def work() -> None:
        go.wait()
        for _ in range(100_000):
            series.inc()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert series.value - start == 800_000


def test_new_label_sets_past_the_bound_fold_into_other(few_series: int) -> None:
    metric = _counters.counter("zixir_test_churn", "test", ("name",))
    for n in range(1_000):
        metric.labels(f"child-{n}").inc()
    samples = dict(metric.samples())
    assert len(samples) == few_series + 1
    assert samples[("other",)] == 1_000 - few_series
    assert sum(samples.values()) == 1_000


def test_labels_are_taken_by_position_or_by_name() -> None:
    metric = _counters.counter("zixir_test_named", "test", ("a", "b"))
    assert metric.labels("x", "y") is metric.labels(b="y", a="x")
    with pytest.raises(ValueError, match=r"^zixir_test_named takes the labels \('a', 'b'\)"):
        metric.labels("x")


def test_a_counter_never_goes_down() -> None:
    with pytest.raises(ValueError, match=r"^a counter only goes up; got inc\(-1\)$"):
        _counters.counter("zixir_test_down", "test").inc(-1)


def test_creating_a_counter_again_returns_it_and_other_labels_are_refused() -> None:
    first = _counters.counter("zixir_test_again", "test", ("x",))
    assert _counters.counter("zixir_test_again", "again", ("x",)) is first
    with pytest.raises(ValueError, match=r"^the counter 'zixir_test_again' exists with the labels"):
        _counters.counter("zixir_test_again", "clash", ("y",))
    with pytest.raises(ValueError, match=r"^counter names leave off '_total'"):
        _counters.counter("zixir_test_again_total", "clash")


def test_the_bound_is_a_whole_number() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^limit must be an int >= 1, got 0$"):
        _counters.set_max_series(0)


def test_counters_are_exported_in_the_prometheus_text_format() -> None:
    metric = _counters.counter("zixir_test_exported", "A test counter", ("kind",))
    metric.labels("a").inc(3)
    text = exposition()
    assert "# HELP zixir_test_exported_total A test counter" in text
    assert 'zixir_test_exported_total{kind="a"} 3.0' in text


def test_a_histogram_counts_each_value_in_its_bucket_and_exports_cumulative_buckets() -> None:
    latency = _counters.histogram("zixir_test_latency_seconds", "test", ("op",), (0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        latency.labels("read").observe(value)
    ((_, counts, total),) = [s for s in latency.samples() if s[0] == ("read",)]
    assert counts == [2, 3, 4] and total == pytest.approx(3.65)
    text = exposition()
    assert 'zixir_test_latency_seconds_bucket{le="0.1",op="read"} 2.0' in text
    assert 'zixir_test_latency_seconds_bucket{le="+Inf",op="read"} 4.0' in text
    assert 'zixir_test_latency_seconds_count{op="read"} 4.0' in text


def test_a_histogram_folds_label_sets_past_the_bound_into_other(few_series: int) -> None:
    latency = _counters.histogram("zixir_test_churn_seconds", "test", ("key",), (1.0,))
    for i in range(100):
        latency.labels(f"k{i}").observe(0.5)
    samples = latency.samples()
    assert len(samples) == few_series + 1
    assert dict((s[0], s[1][-1]) for s in samples)[(_counters.OVERFLOW_LABEL,)] == 100 - few_series


def test_histogram_buckets_must_increase() -> None:
    with pytest.raises(ValueError, match=r"must be increasing and not empty"):
        _counters.histogram("zixir_test_bad_buckets", "test", (), (1.0, 0.5))


def test_a_scrape_gauge_is_read_at_scrape_time_and_bounded(few_series: int) -> None:
    values = {"a": 1.0}
    gauge = _counters.scrape_gauge(
        "zixir_test_depth", "test", ("name",), lambda: [((name,), value) for name, value in values.items()]
    )
    assert 'zixir_test_depth{name="a"} 1.0' in exposition()
    values.update({f"n{i}": 1.0 for i in range(20)})
    samples = dict(gauge.samples())
    assert len(samples) == few_series + 1 and samples[(_counters.OVERFLOW_LABEL,)] == 21 - few_series


def test_a_gauge_goes_up_down_and_is_set() -> None:
    level = _counters.gauge("zixir_test_level", "test", ("pool",))
    series = level.labels("a")
    series.inc(3)
    series.dec()
    assert series.value == 2.0
    series.set(-1.5)
    assert series.value == -1.5
    plain = _counters.gauge("zixir_test_plain", "test")
    plain.set(7)
    plain.dec(2)
    assert dict(plain.samples()) == {(): 5.0}
    assert _counters.gauge("zixir_test_level", "test", ("pool",)) is level


def test_a_gauges_label_sets_are_bounded_under_churn(few_series: int) -> None:
    level = _counters.gauge("zixir_test_level_churn", "test", ("name",))
    for n in range(1_000):
        level.labels(f"breaker-{n}").inc()
        level.labels(f"breaker-{n}").dec()  # the same key lands in the same series
    samples = dict(level.samples())
    assert len(samples) == few_series + 1
    assert all(value == 0.0 for value in samples.values())


def test_gauge_names_are_checked() -> None:
    with pytest.raises(ValueError, match=r"^a gauge's name does not end in '_total'"):
        _counters.gauge("zixir_test_total", "test")
    _counters.gauge("zixir_test_labelled", "test", ("a",))
    with pytest.raises(ValueError, match=r"^the gauge 'zixir_test_labelled' exists with the labels"):
        _counters.gauge("zixir_test_labelled", "test", ("b",))
