"""Drift: each method against scipy or its formula by hand; shifted samples drift,
resamples of the baseline do not; baselines in the cache; the monitor's event and metric."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loguru import logger
from scipy import stats as sst

from zixir import Cache, _counters
from zixir.analytics import drift
from zixir.errors import InvalidArgumentError
from zixir.observability import events

RNG = np.random.default_rng(12)
BASE = RNG.normal(0, 1, 5000)


# With ties scipy falls back from the exact p-value to the asymptotic one, and says so.
@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning")
@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-100, 100), min_size=5, max_size=80, unique=True),
    st.lists(st.floats(-100, 100), min_size=5, max_size=80, unique=True),
)
def test_ks_and_wasserstein_are_scipys(a: list[float], b: list[float]) -> None:
    res = drift.ks(a, b)
    ref = sst.ks_2samp(a, b)
    assert res.value == ref.statistic and res.p_value == ref.pvalue
    assert res.drifted == (ref.pvalue < 0.05)
    assert drift.wasserstein(a, b, threshold=1.0).value == pytest.approx(sst.wasserstein_distance(a, b))


def test_psi_by_hand_on_quantile_bins_of_the_baseline() -> None:
    base = list(range(100))  # deciles: 10 values in each bin
    current = [5] * 50 + [95] * 50  # half in the first bin, half in the last
    by_hand = 2 * (0.5 - 0.1) * math.log(0.5 / 0.1) + 8 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    res = drift.psi(base, current)
    assert res.value == pytest.approx(by_hand)
    assert res.drifted and res.severity == "major"


def test_js_is_the_jensen_shannon_distance_of_the_bin_shares() -> None:
    base = list(range(100))
    current = list(range(50)) * 2
    p, q = np.full(10, 0.1), np.array([0.2] * 5 + [0.0] * 5)
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        return float(sum(x * math.log2(x / y) for x, y in zip(a, b) if x > 0))

    assert drift.js(base, current).value == pytest.approx(math.sqrt((kl(p, m) + kl(q, m)) / 2))


def test_chi_square_on_categories_is_the_contingency_test() -> None:
    base = ["a"] * 500 + ["b"] * 500
    current = ["a"] * 300 + ["b"] * 600 + ["c"] * 100
    res = drift.chi_square(base, current)
    ref = sst.chi2_contingency([[500, 500, 0], [300, 600, 100]], correction=False)
    assert res.p_value == pytest.approx(ref.pvalue) and res.drifted
    assert not drift.chi_square(base, ["a", "b"] * 400).drifted


@pytest.mark.parametrize(
    ("method", "options"),
    [("ks", {}), ("psi", {}), ("js", {}), ("wasserstein", {"threshold": 0.1})],
)
def test_a_shifted_sample_drifts_and_a_resample_of_the_baseline_does_not(method: str, options: dict[str, Any]) -> None:
    fn = getattr(drift, method)
    resample = RNG.choice(BASE, 5000)
    assert not fn(BASE, resample, **options).drifted
    assert fn(BASE, BASE[:2500] + 0.6, **options).drifted


def test_bad_input_is_refused_by_name() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^current is empty"):
        drift.ks([1.0], [])
    with pytest.raises(InvalidArgumentError, match=r"^baseline holds nan or inf"):
        drift.psi([1.0, math.nan], [1.0])
    with pytest.raises(InvalidArgumentError, match=r"^method must be one of"):
        drift.Monitor("m", [1.0], method="kl")


def test_baselines_live_in_the_cache_without_expiry(tmp_path: Path) -> None:
    with Cache(tmp_path / "c", default_ttl=1.0) as cache:
        drift.save_baseline(cache, "latency", [1.0, 2.0, 3.0])
    now = [1e12]
    with Cache(tmp_path / "c", clock=lambda: now[0]) as cache:
        assert drift.load_baseline(cache, "latency") == [1.0, 2.0, 3.0]
        with pytest.raises(KeyError, match="no drift baseline named 'other'"):
            drift.load_baseline(cache, "other")


@pytest.fixture
def records() -> Iterator[list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    logger.enable("zixir")
    handler = logger.add(lambda m: out.append(dict(m.record["extra"])), level="DEBUG")
    yield out
    logger.remove(handler)
    logger.disable("zixir")


def _count(name: str, label: str) -> float:
    counter = next(c for c in _counters.counters() if c.name == name)
    return dict(counter.samples()).get((label,), 0.0)


def test_a_monitor_checks_sliding_windows_and_reports_drift(records: list[dict[str, Any]]) -> None:
    monitor = drift.Monitor("orders", BASE, method="psi", window=500, every=250)
    before = _count("zixir_analytics_drift", "orders")
    checks = [r for r in map(monitor, RNG.normal(0, 1, 1000)) if r is not None]
    assert len(checks) == 3 and not any(c.drifted for c in checks)
    assert not [r for r in records if r.get("event") == events.ANALYTICS_DRIFT]
    shifted = [r for r in map(monitor, RNG.normal(1.5, 1, 500)) if r is not None]
    assert shifted[-1].drifted
    drifts = [r for r in records if r.get("event") == events.ANALYTICS_DRIFT]
    assert drifts and drifts[-1]["monitor"] == "orders" and drifts[-1]["method"] == "psi"
    assert _count("zixir_analytics_drift", "orders") == before + len([c for c in shifted if c.drifted])
    assert len(monitor.results) == 5


def test_a_monitor_keeps_only_its_latest_results_under_churn() -> None:
    monitor = drift.Monitor("churn", BASE, method="psi", window=50, keep_results=7)
    for value in BASE[:3000]:
        monitor.update(value)  # a check every 50 values: 60 checks
    assert len(monitor.results) == 7
    with pytest.raises(InvalidArgumentError):
        drift.Monitor("none", BASE, keep_results=0)
