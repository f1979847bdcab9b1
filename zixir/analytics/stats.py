"""The statistics of experiments, on summary numbers: Welch's t, two-proportion z and
Fisher's exact test, the delta method for ratios and relative lifts, CUPED, Holm, SRM.

Every function takes counts, means and variances (floats or numpy arrays of them, so
simulations vectorise) and uses scipy.stats for the distributions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special as _special
from scipy import stats as _st

__all__ = [
    "Estimate",
    "cuped_theta",
    "holm",
    "lift_interval",
    "normal_p",
    "normal_quantile",
    "proportions",
    "ratio_variance",
    "srm",
    "welch",
]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A difference (treatment - control) with its test.

    Attributes:
        diff: The estimated difference.
        se: Its standard error.
        ci: The confidence interval of the difference at the requested level.
        p_value: Two-sided p-value of "no difference".
        test: Which test gave the p-value: "welch", "z", "fisher".
    """

    diff: Any
    se: Any
    ci: tuple[Any, Any]
    p_value: Any
    test: str


def welch(n_a: Any, mean_a: Any, var_a: Any, n_b: Any, mean_b: Any, var_b: Any, level: float = 0.95) -> Estimate:
    """Welch's unequal-variance t-test of mean_b - mean_a (sample variances, ddof=1).

    The degrees of freedom are Welch-Satterthwaite's; the interval uses the same t quantile.
    """
    qa, qb = np.divide(var_a, n_a), np.divide(var_b, n_b)
    se2 = qa + qb
    se = np.sqrt(se2)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = se2**2 / (qa**2 / np.subtract(n_a, 1) + qb**2 / np.subtract(n_b, 1))
        diff = np.subtract(mean_b, mean_a)
        t = diff / se
    p = 2 * _st.t.sf(np.abs(t), df)
    q = _st.t.ppf(0.5 + level / 2, df)
    return Estimate(diff, se, (diff - q * se, diff + q * se), p, "welch")


def proportions(x_a: float, n_a: float, x_b: float, n_b: float, level: float = 0.95) -> Estimate:
    """The difference of two conversion rates x_b/n_b - x_a/n_a.

    The p-value is the pooled two-proportion z-test (the same as Pearson's chi-square on
    the 2x2 table, without continuity correction) when every expected cell count is at
    least 5, else Fisher's exact test. The interval is the unpooled normal (Wald) one.
    """
    pa, pb = x_a / n_a, x_b / n_b
    diff = pb - pa
    se = math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
    z = float(_st.norm.ppf(0.5 + level / 2))
    ci = (diff - z * se, diff + z * se)
    pooled = (x_a + x_b) / (n_a + n_b)
    expected = min(n_a, n_b) * min(pooled, 1 - pooled)
    if expected < 5:
        table = [[round(x_b), round(n_b - x_b)], [round(x_a), round(n_a - x_a)]]
        return Estimate(diff, se, ci, float(_st.fisher_exact(table).pvalue), "fisher")
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    p = 2 * float(_st.norm.sf(abs(diff) / se0)) if se0 > 0 else (1.0 if diff == 0 else 0.0)
    return Estimate(diff, se, ci, p, "z")


def ratio_variance(n: float, mean_y: float, mean_x: float, var_y: float, var_x: float, cov_xy: float) -> float:
    """The delta-method variance of the ratio of means mean_y / mean_x over n units.

    Var(R) ~ (var_y - 2 R cov_xy + R^2 var_x) / (n mean_x^2), with R = mean_y / mean_x
    (Deng, Knoblich and Lu, 2018).
    """
    r = mean_y / mean_x
    return (var_y - 2 * r * cov_xy + r * r * var_x) / (n * mean_x * mean_x)


def lift_interval(
    mean_a: float, var_mean_a: float, mean_b: float, var_mean_b: float, level: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """The relative lift mean_b / mean_a - 1 and its delta-method normal interval.

    Args:
        mean_a: Control's estimate; var_mean_a its variance (se squared), likewise for b.

    Returns:
        (lift, (low, high)); nan when the control's estimate is 0.
    """
    if mean_a == 0:
        nan = float("nan")
        return nan, (nan, nan)
    lift = mean_b / mean_a - 1
    var = var_mean_b / mean_a**2 + mean_b**2 * var_mean_a / mean_a**4
    z = float(_st.norm.ppf(0.5 + level / 2)) * math.sqrt(var)
    return lift, (lift - z, lift + z)


def cuped_theta(var_x: float, cov_xy: float) -> float:
    """CUPED's theta = cov(X, Y) / var(X) (Deng et al., 2013), pooled over every variant;
    0 when the covariate does not vary."""
    return cov_xy / var_x if var_x > 0 else 0.0


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in input order;
    nan p-values stay nan and do not count towards the family."""
    order = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(order)
    adjusted = [float("nan")] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def srm(counts: list[float], weights: list[float]) -> float:
    """The p-value of Pearson's chi-square test of `counts` against the shares `weights`
    (sample ratio mismatch); variants of weight 0 are left out; 1.0 with under two."""
    pairs = [(c, w) for c, w in zip(counts, weights) if w > 0]
    total = sum(c for c, _ in pairs)
    if len(pairs) < 2 or total == 0:
        return 1.0
    share = sum(w for _, w in pairs)
    stat = sum((c - e) ** 2 / e for (c, _), e in zip(pairs, (total * w / share for _, w in pairs)))
    # chi2.sf by its special function: scipy.stats.chisquare's checks cost more than the test
    return float(_special.chdtrc(len(pairs) - 1, stat))


def normal_quantile(level: float) -> float:
    """The two-sided normal quantile of a `level` interval (1.96 at 0.95)."""
    return float(_st.norm.ppf(0.5 + level / 2))


def normal_p(diff: float, se: float) -> float:
    """The two-sided normal p-value of `diff` with standard error `se`."""
    if not se > 0:
        return 1.0 if diff == 0 else (0.0 if se == 0 else math.nan)
    return 2 * float(_st.norm.sf(abs(diff) / se))
