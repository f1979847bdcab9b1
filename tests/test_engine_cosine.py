"""cosine_similarity is right for every finite non-zero input, however large or small."""

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


def exact_cosine(a: list[float], b: list[float]) -> tuple[Decimal, Decimal]:
    """The exact cosine to 60 digits, and the exact sum of |a_i * b_i| / (|a| |b|)."""
    fa, fb = [Fraction(x) for x in a], [Fraction(y) for y in b]
    ab = sum((x * y for x, y in zip(fa, fb)), Fraction(0))
    spread = sum((abs(x * y) for x, y in zip(fa, fb)), Fraction(0))
    aa = sum((x * x for x in fa), Fraction(0))
    bb = sum((y * y for y in fb), Fraction(0))
    with localcontext() as ctx:
        ctx.prec = 60
        norms = (Decimal(aa.numerator) / Decimal(aa.denominator)).sqrt() * (
            Decimal(bb.numerator) / Decimal(bb.denominator)
        ).sqrt()
        return (
            Decimal(ab.numerator) / Decimal(ab.denominator) / norms,
            Decimal(spread.numerator) / Decimal(spread.denominator) / norms,
        )


def assert_close(got: float, a: list[float], b: list[float]) -> None:
    """Within 4 ulps of the exact cosine, plus the rounding any float dot product may make
    when terms cancel (n * eps relative to the sum of |a_i * b_i|, the textbook bound)."""
    exact, spread = exact_cosine(a, b)
    target = max(-1.0, min(1.0, float(exact)))
    ulp = math.ulp(target) if target else 5e-324
    allowed = Decimal(4 * ulp) + Decimal(2 * len(a) * 2.0**-53) * spread
    assert abs(Decimal(got) - exact) <= allowed, (got, exact, a, b)


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("scale", [1e160, 1e-200, 1e300, 1e-300, 1.0])
def test_huge_and_tiny_vectors_have_the_cosine_of_their_direction(impl: Any, scale: float) -> None:
    a, b = [3 * scale, 4 * scale], [4 * scale, 3 * scale]
    got = impl.cosine_similarity(a, b)
    assert abs(got - 0.96) <= 2 * math.ulp(0.96)
    assert_close(got, a, b)


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
def test_vectors_of_subnormals_and_of_mixed_magnitudes_are_right(impl: Any) -> None:
    for a, b in (
        ([5e-324, 0.0], [5e-324, 5e-324]),
        ([1e300, 1e-300], [1e-300, 1e300]),
        ([1e300, 1e-10], [0.0, 1.0]),
        ([2.0**-300, 0.0, 2.0**-600], [0.0, 2.0**-300, 2.0**-600]),
        ([1.7e308, 1.7e308], [1.7e308, -1.7e308]),
    ):
        assert_close(impl.cosine_similarity(a, b), a, b)
    assert impl.cosine_similarity([1e-320], [-1e300]) == -1.0


def scaled_vector(n: int) -> st.SearchStrategy[list[float]]:
    """n values of one magnitude from 1e-300 to 1e300, with some of other magnitudes mixed in."""
    mantissas = st.lists(st.floats(-10, 10, allow_subnormal=False), min_size=n, max_size=n)
    exponent = st.integers(-300, 300)
    odd = st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.integers(-320, 307)), max_size=2)
    return st.builds(_scaled, mantissas, exponent, odd)


def _scaled(mantissas: list[float], exponent: int, odd: list[tuple[int, int]]) -> list[float]:
    values = [m * 10.0**exponent for m in mantissas]
    for index, e in odd:
        values[index] = 1.5 * 10.0**e
    return values


@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_cosine_is_within_a_few_ulps_of_the_exact_value_at_every_magnitude(data: st.DataObject, kind: str) -> None:
    n = data.draw(st.integers(1, 40))
    a, b = data.draw(scaled_vector(n)), data.draw(scaled_vector(n))
    if not any(a) or not any(b):
        return
    results = [impl.cosine_similarity(as_kind(a, kind), as_kind(b, kind)) for impl in IMPLS]
    assert all(same(results[0], r) for r in results), results  # bit for bit across engines
    assert -1.0 <= results[0] <= 1.0
    assert_close(results[0], a, b)
