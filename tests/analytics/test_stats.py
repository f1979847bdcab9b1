"""The statistics against scipy (hypothesis-drawn data) and published worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from zixir.analytics import bayes, sequential, stats
from zixir.analytics.moments import CoMoments, Moments
from zixir.analytics.power import power, sample_size, sample_size_proportions
from zixir.errors import InvalidArgumentError

samples = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=3, max_size=60).filter(lambda xs: np.var(xs) > 1e-6)


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_welch_matches_scipy_ttest_ind_with_unequal_variances(a: list[float], b: list[float]) -> None:
    e = stats.welch(len(a), np.mean(a), np.var(a, ddof=1), len(b), np.mean(b), np.var(b, ddof=1))
    ref = sst.ttest_ind(b, a, equal_var=False)
    assert float(e.p_value) == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)
    ci = ref.confidence_interval(0.95)
    assert float(e.ci[0]) == pytest.approx(ci.low, rel=1e-6, abs=1e-9)
    assert float(e.ci[1]) == pytest.approx(ci.high, rel=1e-6, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(samples)
def test_moments_add_remove_and_merge_agree_with_numpy(xs: list[float]) -> None:
    m, half = Moments(), Moments()
    for x in xs:
        m.add(x)
    for x in xs[: len(xs) // 2]:
        half.add(x)
    rest = Moments()
    for x in xs[len(xs) // 2 :]:
        rest.add(x)
    half.merge(rest)
    for got in (m, half):
        assert got.mean == pytest.approx(np.mean(xs), abs=1e-9)
        assert got.variance == pytest.approx(np.var(xs, ddof=1), rel=1e-7, abs=1e-7)
    m.add(5.0)
    m.remove(5.0)
    assert m.variance == pytest.approx(np.var(xs, ddof=1), rel=1e-7, abs=1e-7)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=3, max_size=40))
def test_co_moments_give_numpys_covariance(pairs: list[tuple[float, float]]) -> None:
    co = CoMoments()
    for y, x in pairs:
        co.add(y, x)
    co.add(3.0, -2.0)
    co.add(3.0, -2.0, -1)
    ys, xs = np.array(pairs).T
    assert co.cxy / (co.n - 1) == pytest.approx(np.cov(ys, xs)[0, 1], rel=1e-6, abs=1e-6)


def test_two_proportion_z_test_is_pearsons_chi_square_without_correction() -> None:
    e = stats.proportions(200, 1000, 250, 1000)
    chi2 = sst.chi2_contingency([[250, 750], [200, 800]], correction=False)
    assert e.test == "z"
    assert e.p_value == pytest.approx(chi2.pvalue, rel=1e-9)
    # The unpooled interval by hand: 0.05 +- 1.959964 * sqrt(.2*.8/1000 + .25*.75/1000).
    half = 1.959963984540054 * math.sqrt(0.2 * 0.8 / 1000 + 0.25 * 0.75 / 1000)
    assert e.ci == pytest.approx((0.05 - half, 0.05 + half), rel=1e-12)


def test_small_counts_use_fishers_exact_test() -> None:
    e = stats.proportions(1, 10, 7, 10)
    assert e.test == "fisher"

    # Fisher's table [[7, 3], [1, 9]]: the two-sided p sums the hypergeometric probabilities
    # of every table with the same margins that is no more likely than the one observed.
    def prob(k: int) -> float:
        return math.comb(10, k) * math.comb(10, 8 - k) / math.comb(20, 8)

    by_hand = sum(prob(k) for k in range(0, 9) if prob(k) <= prob(7) * (1 + 1e-7))
    assert e.p_value == pytest.approx(by_hand, rel=1e-9)


def test_holm_on_the_textbook_example() -> None:
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(stats.holm([math.nan, 0.02])[0])


def test_sample_ratio_mismatch_is_pearsons_chi_square_on_the_weights() -> None:
    assert stats.srm([5000, 5000], [0.5, 0.5]) == 1.0
    assert stats.srm([5200, 4800], [1, 1]) == pytest.approx(sst.chisquare([5200, 4800]).pvalue)
    assert stats.srm([5200, 4800, 7], [1, 1, 0]) == pytest.approx(sst.chisquare([5200, 4800]).pvalue)


def test_delta_method_variance_of_a_ratio_matches_its_sampling_variance() -> None:
    rng = np.random.default_rng(7)
    n, reps = 400, 4000
    x = rng.poisson(5, (reps, n)) + 1.0
    y = rng.binomial(x.astype(int), 0.3).astype(float)
    ratios = y.mean(1) / x.mean(1)
    predicted = [
        stats.ratio_variance(n, yy.mean(), xx.mean(), yy.var(ddof=1), xx.var(ddof=1), np.cov(yy, xx)[0, 1])
        for yy, xx in zip(y[:50], x[:50])
    ]
    # The empirical variance of the ratio over 4000 replications agrees within its own error (~2.3 %).
    assert np.mean(predicted) == pytest.approx(ratios.var(ddof=1), rel=0.08)


def test_lift_interval_is_the_delta_method_of_a_quotient() -> None:
    lift, (low, high) = stats.lift_interval(10.0, 0.04, 11.0, 0.09)
    sd = math.sqrt(0.09 / 100 + 121 * 0.04 / 10_000)
    assert lift == pytest.approx(0.1)
    assert (low, high) == pytest.approx((0.1 - 1.959963984540054 * sd, 0.1 + 1.959963984540054 * sd))


def test_sample_size_gives_the_textbook_63_per_group_for_half_a_standard_deviation() -> None:
    assert sample_size(1.0, 0.5) == 63
    assert power(63, 1.0, 0.5) == pytest.approx(0.80, abs=0.005)
    # Fleiss without continuity correction, 10 % -> 12 %: 3841 per group (by hand below).
    za, zb = 1.959963984540054, 0.8416212335729143
    by_hand = (za * math.sqrt(2 * 0.11 * 0.89) + zb * math.sqrt(0.1 * 0.9 + 0.12 * 0.88)) ** 2 / 0.02**2
    assert sample_size_proportions(0.10, 0.02) == math.ceil(by_hand) == 3841
    with pytest.raises(InvalidArgumentError, match=r"^mde must be non-zero"):
        sample_size_proportions(0.95, 0.1)


def test_an_ab_test_at_the_planned_sample_size_reaches_the_stated_power() -> None:
    rng = np.random.default_rng(11)
    n, reps = sample_size(1.0, 0.3), 2000
    a = rng.normal(0, 1, (reps, n))
    b = rng.normal(0.3, 1, (reps, n))
    e = stats.welch(n, a.mean(1), a.var(1, ddof=1), n, b.mean(1), b.var(1, ddof=1))
    rate = float(np.mean(e.p_value < 0.05))
    assert rate >= 0.8 - 3 * math.sqrt(0.8 * 0.2 / reps)


def _aa_looks(reps: int, looks: int, per_look: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, (reps, looks * per_look)).reshape(reps, looks, per_look)
    b = rng.normal(0, 1, (reps, looks * per_look)).reshape(reps, looks, per_look)
    n = per_look * np.arange(1, looks + 1)
    ma, mb = np.cumsum(a.sum(2), 1) / n, np.cumsum(b.sum(2), 1) / n
    va = (np.cumsum((a**2).sum(2), 1) - n * ma**2) / (n - 1)
    vb = (np.cumsum((b**2).sum(2), 1) - n * mb**2) / (n - 1)
    return mb - ma, va / n + vb / n


def test_msprt_keeps_the_false_positive_rate_of_2000_aa_tests_with_10_looks_at_alpha() -> None:
    diff, var = _aa_looks(2000, 10, 200, seed=3)
    p = np.minimum.accumulate(sequential.msprt_p(diff, var, 0.1**2), axis=1)
    rate = float(np.mean(p[:, -1] < 0.05))
    assert rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 2000)
    # The same looks with the fixed-horizon test reject far more often (why mSPRT).
    naive = 2 * sst.norm.sf(np.abs(diff) / np.sqrt(var))
    assert float(np.mean((naive < 0.05).any(1))) > 0.12


def test_msprt_on_the_worked_example_of_its_formula() -> None:
    # V = 0.01, tau^2 = 0.01, diff = 0.3: Lambda = sqrt(1/2) * exp(0.09 * 0.01 / (2 * 0.01 * 0.02)).
    lam = math.sqrt(0.5) * math.exp(0.09 * 0.01 / (2 * 0.01 * 0.02))
    assert float(sequential.msprt_p(0.3, 0.01, 0.01)) == pytest.approx(1 / lam)
    low, high = sequential.msprt_interval(0.3, 0.01, 0.01, 0.05)
    half = math.sqrt(0.01 * 0.02 / 0.01 * (math.log(2) + 2 * math.log(20)))
    assert (float(low), float(high)) == pytest.approx((0.3 - half, 0.3 + half))
    # At the interval's edge the test of that effect is exactly at alpha.
    assert float(sequential.msprt_p(half, 0.01, 0.01)) == pytest.approx(0.05)


def test_beta_binomial_matches_the_closed_form_for_small_counts() -> None:
    def exact(xa: int, na: int, xb: int, nb: int) -> float:  # Evan Miller's formula
        aa, ba, ab, bb = 1 + xa, 1 + na - xa, 1 + xb, 1 + nb - xb
        from scipy.special import betaln

        return sum(
            math.exp(betaln(aa + i, ba + bb) - math.log(bb + i) - betaln(1 + i, bb) - betaln(aa, ba)) for i in range(ab)
        )

    prob, loss = bayes.beta_binomial(10, 100, 18, 100)
    assert prob == pytest.approx(exact(10, 100, 18, 100), abs=0.004)
    assert 0 < loss < 0.01


def test_normal_posterior_probability_and_expected_loss_in_closed_form() -> None:
    prob, loss = bayes.normal(0.0, 1.0)
    assert prob == pytest.approx(0.5)
    assert loss == pytest.approx(1 / math.sqrt(2 * math.pi))
    prob, _ = bayes.normal(-1.0, 1.0, higher_is_better=False)
    assert prob == pytest.approx(sst.norm.cdf(1.0))
