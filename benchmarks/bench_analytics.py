"""zixir.analytics against numpy and scipy doing the same work directly.

The experiment row times what a service does with a batch of outcomes: `record_many` of
1e6 values (two variants of 500,000, as Python lists) into the experiment's running sums
in a `zixir.Cache`, then `analyze`; the peer turns the same lists into arrays and runs
Welch's t-test. The drift rows take 1e6-value numpy samples on both sides.
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
from scipy import stats as _st
from scipy.spatial import distance as _distance

from benchmarks.harness import Comparison, compare, progress
from zixir.analytics import Experiment, drift
from zixir.cache import Cache

OUTCOMES = 1_000_000  # split evenly between the two variants
SAMPLE = 1_000_000  # values per side of the drift checks
BINS = 10


def run() -> list[Comparison]:
    """Measures the analytics targets; returns the table rows."""
    with tempfile.TemporaryDirectory(prefix="zixir-bench-analytics-") as root:
        cache = Cache(root, map_size=64 << 20)
        try:
            return [_experiment(cache), *_drift()]
        finally:
            cache.close()


def _experiment(cache: Cache) -> Comparison:
    rng = np.random.default_rng(0)
    control = rng.normal(10.0, 2.0, OUTCOMES // 2).tolist()
    new = rng.normal(10.1, 2.0, OUTCOMES // 2).tolist()
    progress(f"experiment: {OUTCOMES:,} outcomes as lists")
    # One experiment for every repeat: its sums grow, the work per batch does not.
    exp = Experiment("bench", {"control": 0.5, "new": 0.5}, store=cache)

    def zixir() -> Any:
        exp.record_many("control", "revenue", control)
        exp.record_many("new", "revenue", new)
        return exp.analyze("revenue", kind="mean")

    def peer() -> Any:
        return _st.ttest_ind(np.asarray(new), np.asarray(control), equal_var=False)

    return compare("record_many 1e6 (lists) + analyze", "np.asarray + scipy ttest_ind (Welch)", zixir, peer, target=0.2)


def _psi_numpy(base: np.ndarray, current: np.ndarray) -> float:
    """PSI over quantile bins of the baseline, written directly in numpy."""
    edges = np.unique(np.quantile(base, np.linspace(0, 1, BINS + 1)[1:-1]))
    b = np.bincount(np.searchsorted(edges, base, side="right"), minlength=len(edges) + 1) / base.size
    c = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1) / current.size
    b, c = np.maximum(b, 1e-4), np.maximum(c, 1e-4)
    return float(np.sum((c - b) * np.log(c / b)))


def _js_numpy(base: np.ndarray, current: np.ndarray) -> float:
    edges = np.unique(np.quantile(base, np.linspace(0, 1, BINS + 1)[1:-1]))
    b = np.bincount(np.searchsorted(edges, base, side="right"), minlength=len(edges) + 1) / base.size
    c = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1) / current.size
    return float(_distance.jensenshannon(b, c, base=2))


def _drift() -> list[Comparison]:
    rng = np.random.default_rng(1)
    base, current = rng.normal(0.0, 1.0, SAMPLE), rng.normal(0.05, 1.0, SAMPLE)
    progress(f"drift: {SAMPLE:,} values per side")
    rows = [
        compare("drift.psi, 1e6 per side", "the same PSI in numpy", lambda: drift.psi(base, current),
                lambda: _psi_numpy(base, current), target=1.2, repeats=7),
        compare("drift.ks, 1e6 per side", "scipy.stats.ks_2samp", lambda: drift.ks(base, current),
                lambda: _st.ks_2samp(base, current), target=1.2, repeats=5),
        compare("drift.wasserstein, 1e6 per side", "scipy.stats.wasserstein_distance",
                lambda: drift.wasserstein(base, current, threshold=0.1),
                lambda: _st.wasserstein_distance(base, current), target=None, repeats=5),
        compare("drift.js, 1e6 per side", "the same bins + scipy jensenshannon", lambda: drift.js(base, current),
                lambda: _js_numpy(base, current), target=None, repeats=7),
    ]  # fmt: skip
    return rows
