"""Bayesian read-outs: the probability that a variant beats control, and the expected
loss of choosing it (beta-binomial for conversions, normal for means)."""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

__all__ = ["beta_binomial", "normal"]

#: Posterior draws of `beta_binomial`; its Monte Carlo error is below 0.002 on probabilities.
DRAWS = 200_000


def beta_binomial(
    x_a: float, n_a: float, x_b: float, n_b: float, *, higher_is_better: bool = True, seed: int = 0
) -> tuple[float, float]:
    """(P(B better than A), expected loss of choosing B) under Beta(1, 1) priors.

    The loss is E[max(A - B, 0)] (higher is better) in units of conversion rate; both are
    Monte Carlo estimates from `DRAWS` seeded draws, so a call is repeatable.
    """
    rng = np.random.default_rng(seed)
    a = rng.beta(1 + x_a, 1 + n_a - x_a, DRAWS)
    b = rng.beta(1 + x_b, 1 + n_b - x_b, DRAWS)
    gain = b - a if higher_is_better else a - b
    return float(np.mean(gain > 0)), float(np.mean(np.maximum(-gain, 0.0)))


def normal(diff: float, se: float, *, higher_is_better: bool = True) -> tuple[float, float]:
    """(P(B better than A), expected loss of choosing B) for a difference `diff` with
    standard error `se` under a flat prior: the posterior of the effect is N(diff, se^2)."""
    d = diff if higher_is_better else -diff
    if not se > 0:
        return (1.0 if d > 0 else 0.0), max(-d, 0.0)
    z = d / se
    return float(_st.norm.cdf(z)), float(se * _st.norm.pdf(z) - d * _st.norm.cdf(-z))
