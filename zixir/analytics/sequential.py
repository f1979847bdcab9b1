"""Sequential monitoring: the mixture sequential probability ratio test (mSPRT).

Always-valid p-values and confidence sequences for a normal estimate (Johari, Pekelis and
Walsh, "Always valid inference", 2017): the experiment may be looked at after every
outcome and stopped at any look while the false positive rate stays at alpha.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["msprt_interval", "msprt_p"]


def msprt_p(diff: Any, var: Any, tau2: Any) -> Any:
    """1 / Lambda, the always-valid p-value of one look (capped at 1).

    Lambda = sqrt(V / (V + tau2)) * exp(diff^2 tau2 / (2 V (V + tau2))) is the likelihood
    ratio of a N(0, tau2) mixture of effects against "no effect", for an estimate `diff`
    of variance `var` (V). Keep the running minimum over looks (the experiment does).
    """
    var = np.asarray(var, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lam = 0.5 * np.log(var / (var + tau2)) + np.square(diff) * tau2 / (2 * var * (var + tau2))
        p = np.exp(-log_lam)
    return np.where(np.isfinite(p) | np.isinf(p), np.minimum(1.0, p), 1.0)


def msprt_interval(diff: Any, var: Any, tau2: Any, alpha: float) -> tuple[Any, Any]:
    """The always-valid (1 - alpha) confidence sequence for the effect at one look."""
    var = np.asarray(var, dtype=float)
    half = np.sqrt(var * (var + tau2) / tau2 * (np.log((var + tau2) / var) + 2 * np.log(1 / alpha)))
    return diff - half, diff + half
