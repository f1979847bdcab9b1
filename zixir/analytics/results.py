"""The read-outs of an experiment: one `Comparison` per variant against control, and the
`Analysis` that holds them with the sample ratio check."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Analysis", "Comparison", "Decision"]


@dataclass(frozen=True, slots=True)
class Comparison:
    """One variant against control on one metric.

    Attributes:
        variant: The variant's name.
        n: Units (or values) in the variant; n_control likewise.
        mean: The variant's estimate (mean, rate or ratio; CUPED-adjusted with cuped=True);
            mean_control likewise.
        diff: mean - mean_control, with its confidence interval `ci` at the analysis level.
        lift: diff relative to control (mean / mean_control - 1), with `lift_ci`.
        p_value: The fixed-horizon two-sided p-value of `test`; `p_adjusted`: Holm-adjusted
            across the variants.
        test: "welch", "z", "fisher" or "delta".
        sequential_p: The always-valid (mSPRT) p-value, the minimum over every look so far,
            Holm-adjusted across the variants; `sequential_ci`: its confidence sequence.
        prob_better: The Bayesian probability that the variant beats control (in the
            metric's direction); `expected_loss`: the expected shortfall of choosing it.
        better: Whether the variant's estimate is better than control's in the metric's direction.
    """

    variant: str
    n: int
    n_control: int
    mean: float
    mean_control: float
    diff: float
    ci: tuple[float, float]
    lift: float
    lift_ci: tuple[float, float]
    p_value: float
    p_adjusted: float
    test: str
    sequential_p: float
    sequential_ci: tuple[float, float]
    prob_better: float
    expected_loss: float
    better: bool


@dataclass(frozen=True, slots=True)
class Analysis:
    """An experiment's read-out on one metric.

    Attributes:
        experiment: Its name; metric, kind ("mean", "conversion", "ratio"), direction
            ("higher" or "lower" is better), level (of the intervals), cuped (adjusted).
        control: The control variant's name.
        comparisons: One per other variant with weight or data.
        srm_p: The chi-square p-value of the exposure counts against the weights; srm: it
            is below the experiment's `srm_alpha` (a sample ratio mismatch: do not trust
            the comparisons).
        moved_units: Units excluded because a weight change moved their bucket.
        winner: The best variant that is significantly better than control under the
            sequential test at 1 - level (Holm-adjusted), or None.
    """

    experiment: str
    metric: str
    kind: str
    direction: str
    level: float
    cuped: bool
    control: str
    comparisons: tuple[Comparison, ...]
    srm_p: float
    srm: bool
    moved_units: int
    winner: str | None

    def comparison(self, variant: str) -> Comparison:
        """The comparison of `variant` against control.

        Raises:
            KeyError: no such variant in this analysis.
        """
        for c in self.comparisons:
            if c.variant == variant:
                return c
        raise KeyError(f"no comparison for variant {variant!r}; variants: {[c.variant for c in self.comparisons]}")


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a promotion check, with the numbers it was made on.

    Attributes:
        promote: Every condition of the rule holds.
        winner: The variant the rule would promote (None if no variant is significant).
        reasons: Why not, one line per unmet condition (empty when promote).
        promoted: The winner was promoted by this check (auto_promote).
        at: When the check ran (the experiment's clock).
        numbers: The figures checked: samples, days, lift, p-values, srm_p.
    """

    promote: bool
    winner: str | None
    reasons: tuple[str, ...]
    promoted: bool
    at: float
    numbers: dict[str, float]
