"""Drift between a baseline sample and a current one: KS, PSI, Wasserstein, Jensen-Shannon
and chi-square; baselines kept in a zixir Cache; a sliding-window `Monitor` for streams
and workflow steps that logs an event and counts a metric on drift."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from loguru import logger
from scipy import stats as _st
from scipy.spatial import distance as _distance

from zixir import _counters, _validate
from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.observability import events

__all__ = [
    "PSI_BANDS",
    "DriftResult",
    "Monitor",
    "chi_square",
    "js",
    "ks",
    "load_baseline",
    "psi",
    "save_baseline",
    "wasserstein",
]

#: The usual PSI severity bands: below 0.1 stable, 0.1 to 0.25 moderate, 0.25 and up major.
PSI_BANDS = ((0.1, "stable"), (0.25, "moderate"), (float("inf"), "major"))
_EPS = 1e-4  # the share an empty PSI bin counts as, so its log stays finite
_DRIFTS = _counters.counter("zixir_analytics_drift", "Windows of a drift monitor that drifted", ("monitor",))
_CHECKS = _counters.counter("zixir_analytics_drift_checks", "Windows a drift monitor checked", ("monitor",))


@dataclass(frozen=True, slots=True)
class DriftResult:
    """One drift check.

    Attributes:
        method: "ks", "psi", "wasserstein", "js" or "chi_square".
        value: The method's statistic: KS D, PSI, the distance, chi-square's statistic.
        p_value: For the tests (ks, chi_square); None for the distances.
        threshold: In the method's units: a p-value for the tests (drift below it), the
            statistic for the others (drift at or above it).
        drifted: The check crossed its threshold.
        severity: For PSI, the band of `PSI_BANDS`; else "drift" or "stable".
    """

    method: str
    value: float
    p_value: float | None
    threshold: float
    drifted: bool
    severity: str


def _sample(name: str, values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"{name} must be a sequence of numbers ({exc})", name) from exc
    if arr.size == 0:
        raise InvalidArgumentError(f"{name} is empty; a drift check needs values on both sides", name)
    if not np.isfinite(arr).all():
        raise InvalidArgumentError(f"{name} holds nan or inf; drop or impute them first (Schema.repair)", name)
    return arr


def _result(method: str, value: float, p: float | None, threshold: float) -> DriftResult:
    drifted = (p < threshold) if p is not None else value >= threshold
    return DriftResult(method, float(value), p, threshold, bool(drifted), "drift" if drifted else "stable")


def ks(baseline: Any, current: Any, *, threshold: float = 0.05) -> DriftResult:
    """Two-sample Kolmogorov-Smirnov test; drift when its p-value is below `threshold`."""
    threshold = _validate.number("threshold", threshold, above=0, at_most=1)
    res = _st.ks_2samp(_sample("baseline", baseline), _sample("current", current))
    return _result("ks", res.statistic, float(res.pvalue), threshold)


def _edges(base: np.ndarray, bins: int) -> np.ndarray:
    """Inner edges at the baseline's quantiles (repeated edges merged)."""
    return np.unique(np.quantile(base, np.linspace(0, 1, bins + 1)[1:-1]))


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / values.size


def psi(baseline: Any, current: Any, *, bins: int = 10, threshold: float = 0.25) -> DriftResult:
    """Population stability index over `bins` quantile bins of the baseline.

    PSI = sum((c - b) * ln(c / b)) over the bins' shares b (baseline) and c (current); an
    empty bin counts as a share of 1e-4. Drift at or above `threshold` (see `PSI_BANDS`).
    """
    bins = _validate.whole("bins", bins, at_least=2)
    threshold = _validate.number("threshold", threshold, above=0)
    base = _sample("baseline", baseline)
    edges = _edges(base, bins)
    b = np.maximum(_shares(base, edges), _EPS)
    c = np.maximum(_shares(_sample("current", current), edges), _EPS)
    value = float(np.sum((c - b) * np.log(c / b)))
    res = _result("psi", value, None, threshold)
    band = next(name for bound, name in PSI_BANDS if value < bound)
    return DriftResult(res.method, res.value, None, threshold, res.drifted, band)


def wasserstein(baseline: Any, current: Any, *, threshold: float) -> DriftResult:
    """Earth mover's distance between the samples, in the data's units; drift at or
    above `threshold` (also in the data's units: there is no unit-free default)."""
    threshold = _validate.number("threshold", threshold, above=0)
    value = _st.wasserstein_distance(_sample("baseline", baseline), _sample("current", current))
    return _result("wasserstein", value, None, threshold)


def js(baseline: Any, current: Any, *, bins: int = 10, threshold: float = 0.1) -> DriftResult:
    """Jensen-Shannon distance (base 2, in [0, 1]) of the samples' shares over `bins`
    quantile bins of the baseline; drift at or above `threshold`."""
    bins = _validate.whole("bins", bins, at_least=2)
    threshold = _validate.number("threshold", threshold, above=0, at_most=1)
    base = _sample("baseline", baseline)
    edges = _edges(base, bins)
    value = _distance.jensenshannon(_shares(base, edges), _shares(_sample("current", current), edges), base=2)
    return _result("js", value, None, threshold)


def chi_square(baseline: Iterable[Any], current: Iterable[Any], *, threshold: float = 0.05) -> DriftResult:
    """Chi-square test of the categories' counts in both samples (a 2 x k table); drift
    when its p-value is below `threshold`."""
    threshold = _validate.number("threshold", threshold, above=0, at_most=1)
    b, c = collections.Counter(baseline), collections.Counter(current)
    if not b or not c:
        raise InvalidArgumentError("chi_square needs categories on both sides; got an empty sample", "baseline")
    cats = sorted(set(b) | set(c), key=repr)
    if len(cats) < 2:
        return _result("chi_square", 0.0, 1.0, threshold)
    res = _st.chi2_contingency([[b[k] for k in cats], [c[k] for k in cats]], correction=False)
    return _result("chi_square", res.statistic, float(res.pvalue), threshold)


_METHODS: dict[str, Callable[..., DriftResult]] = {
    "ks": ks,
    "psi": psi,
    "wasserstein": wasserstein,
    "js": js,
    "chi_square": chi_square,
}


def save_baseline(cache: Any, name: str, values: Any) -> None:
    """Stores a baseline sample under `name` in `cache`, with no expiry."""
    if not isinstance(name, str) or not name:
        raise ArgumentTypeError(f"name must be a non-empty str, got {name!r}", "name")
    cache.put(f"zixir.drift/{name}", list(values), ttl=None)


def load_baseline(cache: Any, name: str) -> list[Any]:
    """The baseline stored under `name`.

    Raises:
        KeyError: no baseline of that name.
    """
    found = cache.get(f"zixir.drift/{name}")
    if found is None:
        raise KeyError(f"no drift baseline named {name!r}; store one with save_baseline")
    return list(found)


class Monitor:
    """Sliding-window drift monitoring against a baseline.

    Feed values with `update` (or use it as a stream's ``for_each``); every `every` values,
    once `window` have arrived, the last `window` are checked. A drifted check logs the
    ``analytics.drift`` event and counts ``zixir_analytics_drift_total{monitor=name}``.
    `check` runs one check on a batch, the form for a workflow step.

    Args:
        name: The monitor's name (metric label and log field).
        baseline: The reference sample.
        method: One of "ks", "psi", "wasserstein", "js", "chi_square".
        window: Values in the window (the memory kept).
        every: Values between checks (default: the window).
        keep_results: How many of the latest checks `results` keeps (older ones fall off).
        options: The method's keyword options (threshold, bins).

    Raises:
        InvalidArgumentError: an unknown method, a window, `every` or `keep_results` below 1.
    """

    def __init__(self, name: str, baseline: Sequence[Any], *, method: str = "psi", window: int = 1000,
                 every: int | None = None, keep_results: int = 100, **options: Any) -> None:  # fmt: skip
        if method not in _METHODS:
            raise InvalidArgumentError(f"method must be one of {sorted(_METHODS)}, got {method!r}", "method")
        self.name = name
        self.method = method
        self.window = _validate.whole("window", window)
        self.every = self.window if every is None else _validate.whole("every", every)
        self._baseline = list(baseline)
        self._options = options
        self._fn = _METHODS[method]
        self._fn(self._baseline, self._baseline, **options)  # bad options or baseline fail here
        self._values: collections.deque[Any] = collections.deque(maxlen=self.window)
        self._since = 0
        self.results: collections.deque[DriftResult] = collections.deque(
            maxlen=_validate.whole("keep_results", keep_results)
        )

    def check(self, values: Sequence[Any]) -> DriftResult:
        """Checks one batch against the baseline (logs and counts a drift)."""
        result: DriftResult = self._fn(self._baseline, values, **self._options)
        _CHECKS.labels(self.name).inc()
        if result.drifted:
            _DRIFTS.labels(self.name).inc()
            logger.bind(
                event=events.ANALYTICS_DRIFT, monitor=self.name, method=self.method, value=result.value,
                threshold=result.threshold,
            ).warning("drift monitor {} drifted: {} {:.4g}", self.name, self.method, result.value)  # fmt: skip
        return result

    def update(self, value: Any) -> DriftResult | None:
        """Adds one value; the check's result when one ran, else None."""
        self._values.append(value)
        self._since += 1
        if len(self._values) < self.window or self._since < self.every:
            return None
        self._since = 0
        result = self.check(list(self._values))
        self.results.append(result)
        return result

    def __call__(self, value: Any) -> DriftResult | None:
        return self.update(value)

    def __repr__(self) -> str:
        return f"Monitor({self.name!r}, method={self.method!r}, window={self.window}, every={self.every})"
