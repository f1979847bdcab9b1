"""Sample size and power of a two-sided, two-sample test (normal approximation)."""

from __future__ import annotations

import math

from scipy import stats as _st

from zixir import _validate

__all__ = ["power", "sample_size", "sample_size_proportions"]


def sample_size(sd: float, mde: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Units per variant to detect an absolute difference `mde` of means with sd `sd`.

    n = (z_{1-alpha/2} + z_{power})^2 * 2 sd^2 / mde^2, rounded up (equal groups).

    Raises:
        InvalidArgumentError: sd or mde not > 0, alpha or power outside (0, 1).
    """
    _validate.number("sd", sd, above=0)
    _validate.number("mde", abs(mde) if isinstance(mde, (int, float)) else mde, above=0)
    z = _quantiles(alpha, power)
    return math.ceil(z * z * 2 * sd * sd / (mde * mde))


def sample_size_proportions(p_control: float, mde: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Units per variant to detect a change of conversion from `p_control` by `mde`
    (absolute), by the pooled-null, unpooled-alternative formula (Fleiss, no continuity
    correction).

    Raises:
        InvalidArgumentError: rates outside (0, 1), alpha or power outside (0, 1).
    """
    _validate.number("p_control", p_control, above=0, at_most=1)
    p2 = p_control + mde
    if not 0 < p2 < 1 or mde == 0:
        raise _validate_error("mde", f"mde must be non-zero and keep p_control + mde in (0, 1), got {mde!r}")
    za = float(_st.norm.ppf(1 - _validate.number("alpha", alpha, above=0, at_most=0.5) / 2))
    zb = float(_st.norm.ppf(_validate.number("power", power, above=0, at_most=0.9999)))
    bar = (p_control + p2) / 2
    top = za * math.sqrt(2 * bar * (1 - bar)) + zb * math.sqrt(p_control * (1 - p_control) + p2 * (1 - p2))
    return math.ceil(top * top / (mde * mde))


def power(n: float, sd: float, mde: float, *, alpha: float = 0.05) -> float:
    """The power of the two-sided z-test with `n` units per variant to detect `mde`."""
    _validate.number("n", n, above=0)
    _validate.number("sd", sd, above=0)
    za = float(_st.norm.ppf(1 - _validate.number("alpha", alpha, above=0, at_most=0.5) / 2))
    shift = abs(mde) / (sd * math.sqrt(2 / n))
    return float(_st.norm.cdf(shift - za) + _st.norm.cdf(-shift - za))


def _quantiles(alpha: float, power: float) -> float:
    za = float(_st.norm.ppf(1 - _validate.number("alpha", alpha, above=0, at_most=0.5) / 2))
    zb = float(_st.norm.ppf(_validate.number("power", power, above=0, at_most=0.9999)))
    return za + zb


def _validate_error(name: str, message: str) -> Exception:
    from zixir.errors import InvalidArgumentError

    return InvalidArgumentError(message, name)
