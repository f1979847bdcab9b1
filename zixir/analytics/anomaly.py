"""Anomalies in a series: z-score, robust z (median and MAD), IQR fences and a rolling
window for streams; every result is indices into the original data."""

from __future__ import annotations

from typing import Any

import numpy as np

from zixir import _validate

__all__ = ["iqr", "robust_z", "rolling_z", "zscore"]


def _series(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float).ravel()


def zscore(values: Any, *, threshold: float = 3.0) -> list[int]:
    """Indices where |x - mean| / sd (ddof=1) exceeds `threshold`; none if sd is 0."""
    threshold = _validate.number("threshold", threshold, above=0)
    x = _series(values)
    sd = x.std(ddof=1) if x.size > 1 else 0.0
    return [] if sd == 0 else np.flatnonzero(np.abs(x - x.mean()) / sd > threshold).tolist()


def robust_z(values: Any, *, threshold: float = 3.5) -> list[int]:
    """Indices where 0.6745 |x - median| / MAD exceeds `threshold` (Iglewicz and Hoaglin)."""
    threshold = _validate.number("threshold", threshold, above=0)
    x = _series(values)
    if x.size == 0:
        return []
    med = np.median(x)
    mad = np.median(np.abs(x - med))
    return [] if mad == 0 else np.flatnonzero(0.6745 * np.abs(x - med) / mad > threshold).tolist()


def iqr(values: Any, *, k: float = 1.5) -> list[int]:
    """Indices outside [Q1 - k IQR, Q3 + k IQR] (Tukey's fences)."""
    k = _validate.number("k", k, at_least=0)
    x = _series(values)
    if x.size == 0:
        return []
    q1, q3 = np.percentile(x, [25, 75])
    spread = q3 - q1
    return np.flatnonzero((x < q1 - k * spread) | (x > q3 + k * spread)).tolist()


def rolling_z(values: Any, *, window: int = 50, threshold: float = 3.0) -> list[int]:
    """Indices whose value is more than `threshold` sds from the mean of the `window`
    values before it (the online form: each point judged on the past only)."""
    window = _validate.whole("window", window, at_least=2)
    threshold = _validate.number("threshold", threshold, above=0)
    x = _series(values)
    out = []
    for i in range(window, x.size):
        past = x[i - window : i]
        sd = past.std(ddof=1)
        if sd > 0 and abs(x[i] - past.mean()) / sd > threshold:
            out.append(i)
    return out
