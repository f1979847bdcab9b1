"""list_sum and list_mean are exact: correctly rounded, IEEE on inf and nan, no overflow."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from tests.engine_support import KINDS, as_kind, implementations

IMPLS = implementations()


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("kind", KINDS)
def test_cancelling_huge_terms_keep_the_small_one(impl: object, kind: str) -> None:
    assert impl.list_sum(as_kind([1e16, 1.0, -1e16], kind)) == 1.0  # type: ignore[attr-defined]
    assert impl.list_sum(as_kind([1e100, 1.0, -1e100, 1e-100], kind)) == 1.0  # type: ignore[attr-defined]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
def test_long_alternating_series_of_huge_and_tiny_terms_is_exact(impl: object) -> None:
    rng = random.Random(3)
    values = []
    for _ in range(50_000):
        big = rng.choice([1e20, 1e15, 3e18]) * rng.choice([1, -1])
        values += [big, rng.random() * 1e-3, -big]
    assert impl.list_sum(values) == math.fsum(values)  # type: ignore[attr-defined]
    assert impl.list_sum(as_kind(values, "array")) == math.fsum(values)  # type: ignore[attr-defined]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
def test_well_scaled_sums_equal_fsum_over_many_sizes(impl: object) -> None:
    rng = random.Random(11)
    for n in (1, 15, 16, 17, 127, 128, 129, 1000, 65_537):
        values = [rng.uniform(-1, 1) * 10 ** rng.randint(-3, 3) for _ in range(n)]
        assert impl.list_sum(values) == math.fsum(values)  # type: ignore[attr-defined]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
def test_a_sum_beyond_the_float_range_is_infinite_and_a_finite_one_is_exact(impl: object) -> None:
    assert impl.list_sum([1e308, 1e308]) == math.inf  # type: ignore[attr-defined]
    assert impl.list_sum([-1e308, -1e308]) == -math.inf  # type: ignore[attr-defined]
    # fsum raises "intermediate overflow" here; the exact answer is representable.
    assert impl.list_sum([1e308, 1e308, -1e308]) == 1e308  # type: ignore[attr-defined]
    assert impl.list_mean([1e308, 1e308, 1e308]) == 1e308  # type: ignore[attr-defined]
    exact = Fraction(1.7e308) + Fraction(1.7e308) - Fraction(5e307)
    assert impl.list_mean([1.7e308, 1.7e308, -5e307]) == float(exact / 3)  # type: ignore[attr-defined]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
def test_inf_and_nan_propagate_as_ieee_says(impl: object) -> None:
    sum_ = impl.list_sum  # type: ignore[attr-defined]
    assert sum_([1.0, math.inf]) == math.inf
    assert math.isnan(sum_([math.inf, -math.inf]))
    assert math.isnan(sum_([1.0, math.nan, 2.0]))
    assert math.isnan(impl.list_max([1.0, math.nan, 2.0]))  # type: ignore[attr-defined]
    assert math.isnan(impl.list_min([math.nan, 1.0]))  # type: ignore[attr-defined]
    # Finite values that overflow on the way (fsum raises) beside nan or inf: these decide.
    assert math.isnan(sum_([1e308, 1e308, math.nan]))
    assert math.isnan(impl.list_std([1e308, 1e308, math.nan]))  # type: ignore[attr-defined]
    assert sum_([1e308, 1e308, -math.inf]) == -math.inf
    assert impl.vec_div([1.0, -1.0, 0.0], [0.0, 0.0, 0.0])[:2] == [math.inf, -math.inf]  # type: ignore[attr-defined]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
def test_variance_is_stable_far_from_zero(impl: object) -> None:
    # A naive sum-of-squares formula loses every digit here; two passes keep them.
    values = [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]
    assert impl.list_variance(values) == 22.5  # type: ignore[attr-defined]
    assert impl.list_variance(values, ddof=1) == 30.0  # type: ignore[attr-defined]
    assert impl.list_std([2, 4, 4, 4, 5, 5, 7, 9]) == 2.0  # type: ignore[attr-defined]
