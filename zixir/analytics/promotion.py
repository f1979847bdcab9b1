"""The winner-promotion rule: significance under the sequential test, minimum samples,
minimum duration, minimum lift and no sample ratio mismatch, all at once."""

from __future__ import annotations

import math
from dataclasses import dataclass

from zixir import _validate
from zixir.analytics.results import Analysis, Decision
from zixir.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["PromotionRule", "decide"]


@dataclass(frozen=True, slots=True)
class PromotionRule:
    """When a variant may replace control.

    Attributes:
        metric: The metric judged; kind and direction as in `Experiment.analyze`.
        alpha: The sequential (mSPRT, Holm-adjusted) p-value must be below it.
        min_samples: Units per variant (the winner and control), at least.
        min_duration: Seconds since the experiment started, at least (weekly cycles:
            7 days is the usual floor).
        min_lift: Relative lift in the metric's direction, at least (0.02: 2 %).

    Raises:
        ArgumentTypeError, InvalidArgumentError: a bad field.
    """

    metric: str = "converted"
    kind: str = "auto"
    direction: str = "higher"
    alpha: float = 0.05
    min_samples: int = 1000
    min_duration: float = 7 * 86400.0
    min_lift: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ArgumentTypeError(f"metric must be a non-empty str, got {self.metric!r}", "metric")
        if self.direction not in ("higher", "lower"):
            raise InvalidArgumentError(f'direction must be "higher" or "lower", got {self.direction!r}', "direction")
        _validate.number("alpha", self.alpha, above=0, at_most=0.5)
        _validate.whole("min_samples", self.min_samples, at_least=0)
        _validate.number("min_duration", self.min_duration, at_least=0)
        _validate.number("min_lift", self.min_lift, at_least=0)


def decide(rule: PromotionRule, analysis: Analysis, elapsed: float, now: float, auto_promote: bool) -> Decision:
    """The decision of `rule` on `analysis`, `elapsed` seconds into the experiment."""
    best = None if analysis.winner is None else analysis.comparison(analysis.winner)
    reasons = []
    if best is None:
        reasons.append(f"no variant is significantly better under the sequential test at alpha {rule.alpha}")
    else:
        if min(best.n, best.n_control) < rule.min_samples:
            reasons.append(f"{min(best.n, best.n_control)} units is below min_samples {rule.min_samples}")
        lift = best.lift if rule.direction == "higher" else -best.lift
        if not (lift >= rule.min_lift) or math.isnan(lift):
            reasons.append(f"lift {lift:.4g} is below min_lift {rule.min_lift}")
    if elapsed < rule.min_duration:
        reasons.append(f"{elapsed:.0f}s elapsed is below min_duration {rule.min_duration:.0f}s")
    if analysis.srm:
        reasons.append(f"sample ratio mismatch (p={analysis.srm_p:.3g}): fix the assignment before deciding")
    numbers = {"elapsed": elapsed, "srm_p": analysis.srm_p}
    if best is not None:
        numbers.update(n=float(best.n), n_control=float(best.n_control), lift=best.lift,
                       sequential_p=best.sequential_p, p_value=best.p_value)  # fmt: skip
    promote = not reasons
    return Decision(
        promote, None if best is None else best.variant, tuple(reasons), promote and auto_promote, now, numbers
    )
