"""Dot products, variances and deviations do not overflow or vanish on the way to a
representable answer: they scale by powers of two when the plain pass could have."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.engine_support import KINDS, as_kind, implementations, same

IMPLS = implementations()


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
def test_a_dot_product_whose_products_overflow_but_cancel_is_exact(impl: Any) -> None:
    assert impl.dot_product([1e200, 1e200], [1e200, -1e200]) == 0.0
    assert impl.dot_product([1e200, 1e200, 1e150], [1e200, -1e200, 3e150]) == pytest.approx(3e300, rel=1e-15)
    assert impl.dot_product([1e200, 1e200], [1e200, 1e200]) == math.inf  # the answer itself overflows
    assert impl.dot_product([1e-200] * 4, [1e-130] * 4) == pytest.approx(4e-330, abs=5e-324)
    assert math.isnan(impl.dot_product([math.inf, 1.0], [0.0, 1.0]))


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
def test_deviations_of_huge_and_tiny_values_are_right(impl: Any) -> None:
    assert impl.list_std([1e-170, -1e-170]) == 1e-170
    assert impl.list_std([1e160, -1e160]) == 1e160
    assert impl.list_std([1.7e308, -1.7e308]) == 1.7e308
    assert impl.list_variance([1e160, -1e160]) == math.inf  # 1e320 is beyond the float range
    assert impl.list_variance([1.3e154] * 3 + [-1.3e154] * 3) == pytest.approx(1.69e308, rel=1e-15)
    assert impl.list_variance([3.0] * 5) == 0.0 and impl.list_std([0.0, 0.0]) == 0.0


def exact_std(values: list[float]) -> float:
    exact = [Fraction(v) for v in values]
    mean = sum(exact, Fraction(0)) / len(exact)
    variance = sum(((x - mean) ** 2 for x in exact), Fraction(0)) / len(exact)
    with localcontext() as ctx:
        ctx.prec = 40
        return float((Decimal(variance.numerator) / Decimal(variance.denominator)).sqrt())


magnitudes = st.builds(
    lambda mantissas, exponent: [m * 10.0**exponent for m in mantissas],
    st.lists(st.floats(-10, 10, allow_subnormal=False), min_size=1, max_size=40),
    st.integers(-300, 300),
)


@given(values=magnitudes, kind=st.sampled_from(KINDS))
def test_std_is_close_to_the_exact_value_at_every_magnitude(values: list[float], kind: str) -> None:
    results = [impl.list_std(as_kind(values, kind)) for impl in IMPLS]
    assert all(same(results[0], r) for r in results)
    spread = max(abs(v) for v in values)
    expected = exact_std(values)
    assert results[0] == pytest.approx(expected, rel=1e-12, abs=1e-12 * spread + 5e-324)


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
def test_a_tiny_dot_product_of_normal_values_keeps_its_precision(impl: Any) -> None:
    # Scaling the vectors down to their largest magnitude would push 2.2e-308 into the
    # subnormals and lose 10 digits; small results are scaled up instead.
    a, b = [262144.0, 2.2250738585072014e-308], [0.0, 131072.77604628424]
    exact = float(sum(Fraction(x) * Fraction(y) for x, y in zip(a, b)))
    assert impl.dot_product(a, b) == exact
    tiny = [1e-160, 3e-200]
    assert impl.dot_product(tiny, [1e-160, 1.0]) == float(Fraction(1e-160) ** 2 + Fraction(3e-200))
