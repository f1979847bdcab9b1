"""From an experiment's running sums to its `Analysis`: the zero-filled moments of every
variant, the fixed-horizon test of the metric's kind, the sequential and Bayesian
read-outs, Holm across variants, and the sample ratio check."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from zixir.analytics import bayes, sequential, stats
from zixir.analytics.moments import CoMoments, Moments
from zixir.analytics.results import Analysis, Comparison
from zixir.analytics.state import State
from zixir.errors import InvalidArgumentError

__all__ = ["AnalysisPlan", "analyze"]


@dataclass(frozen=True, slots=True)
class AnalysisPlan:
    """What to analyse: the metric, its kind, its pair, and the read-out's settings."""

    experiment: str
    metric: str
    kind: str  # "mean", "conversion" or "ratio"
    pair: tuple[str, str] | None  # (numerator, denominator) or (metric, covariate) for CUPED
    cuped: bool
    direction: str
    level: float
    tau: float
    srm_alpha: float


def moments_of(state: State, metric: str, v: int) -> Moments:
    """The moments of `metric` in variant `v`, exposed units without a value counted as 0."""
    m = state.unit_moments(metric, v)
    m.merge(Moments(max(state.exposed[v] - m.n, 0.0), 0.0, 0.0))
    m.merge(Moments.of(state.metric(metric)["anon"][v]))
    return m


def _co_of(state: State, pair: tuple[str, str], v: int) -> CoMoments:
    co = state.comoments(pair[0], pair[1], v)
    co.merge(CoMoments(max(state.exposed[v] - co.n, 0.0)))
    return co


def _estimates(plan: AnalysisPlan, state: State, shown: list[int]) -> list[tuple[float, float, float]]:
    """(n, estimate, variance of the estimate) of every variant in `shown`."""
    out = []
    if plan.kind == "ratio":
        assert plan.pair is not None
        for v in shown:
            co = _co_of(state, plan.pair, v)
            n = co.n
            var = (
                stats.ratio_variance(n, co.my, co.mx, co.myy / (n - 1), co.mxx / (n - 1), co.cxy / (n - 1))
                if n > 1 and co.mx != 0
                else math.nan
            )
            out.append((n, co.my / co.mx if co.mx else math.nan, var))
        return out
    if plan.cuped:
        assert plan.pair is not None
        cos = [_co_of(state, plan.pair, v) for v in shown]
        pooled = CoMoments()
        for co in cos:
            pooled.merge(co)
        theta = stats.cuped_theta(pooled.mxx, pooled.cxy)
        for co in cos:
            n = co.n
            var = (co.myy - 2 * theta * co.cxy + theta * theta * co.mxx) / (n - 1) if n > 1 else math.nan
            out.append((n, co.my - theta * (co.mx - pooled.mx), var / n if n else math.nan))
        return out
    for v in shown:
        m = moments_of(state, plan.metric, v)
        out.append((m.n, m.mean if m.n else math.nan, m.variance / m.n if m.n else math.nan))
    return out


def analyze(plan: AnalysisPlan, state: State, names: list[str], weights: list[float], control: int,
            looks: list[float]) -> tuple[Analysis, list[float]]:  # fmt: skip
    """The analysis of `plan`, and the new running minimum sequential p of every variant.

    Raises:
        InvalidArgumentError: kind "conversion" on values other than 0 and 1.
    """
    if plan.kind == "conversion" and not all(state.metric(plan.metric)["binary"]):
        raise InvalidArgumentError(
            f"metric {plan.metric!r} of experiment {plan.experiment!r} has unit values other than 0 and 1; "
            'analyse it with kind="mean"',
            "kind",
        )
    shown = [v for v in range(len(names)) if v != control and (weights[v] > 0 or state.exposed[v])]
    ests = _estimates(plan, state, [control, *shown])
    n_a, est_a, var_a = ests[0]
    higher = plan.direction == "higher"
    alpha = 1 - plan.level
    rows: list[Comparison] = []
    looks = list(looks) + [1.0] * (len(names) - len(looks))
    for v, (n_b, est_b, var_b) in zip(shown, ests[1:]):
        if plan.kind == "conversion" and not plan.cuped and n_a > 0 and n_b > 0:
            e = stats.proportions(est_a * n_a, n_a, est_b * n_b, n_b, plan.level)
            diff, se, ci, p, test = e.diff, e.se, e.ci, e.p_value, e.test
        elif plan.kind == "ratio":
            diff, se = est_b - est_a, math.sqrt(var_a + var_b)
            z = stats.normal_quantile(plan.level)
            ci, test = (diff - z * se, diff + z * se), "delta"
            p = stats.normal_p(diff, se)
        else:
            e = stats.welch(n_a, est_a, var_a * n_a, n_b, est_b, var_b * n_b, plan.level)
            diff, se, ci, p, test = float(e.diff), float(e.se), e.ci, float(e.p_value), e.test
        lift, lift_ci = stats.lift_interval(est_a, var_a, est_b, var_b, plan.level)
        unit_sd = math.sqrt(var_a * n_a) if n_a and var_a == var_a else math.nan
        tau2 = (plan.tau * unit_sd) ** 2
        if se > 0 and tau2 > 0:
            looks[v] = min(looks[v], float(sequential.msprt_p(diff, se * se, tau2)))
            low, high = sequential.msprt_interval(diff, se * se, tau2, alpha)
            seq_ci = (float(low), float(high))
        else:
            seq_ci = (math.nan, math.nan)
        if plan.kind == "conversion" and not plan.cuped:
            prob, loss = bayes.beta_binomial(est_a * n_a, n_a, est_b * n_b, n_b, higher_is_better=higher)
        else:
            prob, loss = bayes.normal(diff, se, higher_is_better=higher)
        better = bool(diff > 0) if higher else bool(diff < 0)
        rows.append(
            Comparison(
                variant=names[v], n=int(n_b), n_control=int(n_a), mean=float(est_b), mean_control=float(est_a),
                diff=float(diff), ci=(float(ci[0]), float(ci[1])), lift=float(lift), lift_ci=lift_ci,
                p_value=float(p), p_adjusted=math.nan, test=test, sequential_p=looks[v], sequential_ci=seq_ci,
                prob_better=prob, expected_loss=loss, better=better,
            )
        )  # fmt: skip
    # Holm across the variants, for the fixed-horizon and the sequential p-values alike.
    adjusted = stats.holm([c.p_value for c in rows])
    seq_adjusted = stats.holm([c.sequential_p for c in rows])
    comparisons = tuple(
        replace(c, p_adjusted=adj, sequential_p=sadj) for c, adj, sadj in zip(rows, adjusted, seq_adjusted)
    )
    counts = [float(c) for c in state.exposed]
    if not any(counts):
        counts = [moments_of(state, plan.metric, v).n for v in range(len(names))]
    srm_p = stats.srm(counts, weights)
    wins = [c for c in comparisons if c.better and c.sequential_p < alpha]
    best = max(wins, key=lambda c: c.diff if higher else -c.diff, default=None)
    analysis = Analysis(plan.experiment, plan.metric, plan.kind, plan.direction, plan.level, plan.cuped,
                        names[control], comparisons, srm_p, srm_p < plan.srm_alpha, state.moved,
                        None if best is None else best.variant)  # fmt: skip
    return analysis, looks
