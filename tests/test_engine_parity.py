"""The compiled engine, the pure-Python twin and numpy agree on every operation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.engine_support import KINDS, as_kind, implementations, same

IMPLS = implementations()

any_float = st.floats(allow_nan=True, allow_infinity=True)
huge_or_tiny = st.sampled_from([1e308, -1e308, 1e300, -1e-300, 5e-324, 1e16, -1e16, 1.0])
number = st.one_of(
    any_float,
    huge_or_tiny,
    st.integers(min_value=-(2**80), max_value=2**80),
    st.booleans(),
)
vectors = st.lists(number, max_size=70)  # crosses the kernels' 16-lane blocks
well_scaled = st.lists(st.floats(min_value=-1e6, max_value=1e6), max_size=70)
kinds = st.sampled_from(KINDS)
scalar = st.one_of(any_float, st.integers(min_value=-(2**60), max_value=2**60))


def results(op: str, *args: Any) -> list[Any]:
    """The op's result in every implementation; the error type and text if it raised."""
    out = []
    for impl in IMPLS:
        try:
            out.append(getattr(impl, op)(*args))
        except Exception as exc:  # compared across implementations below
            out.append((type(exc), str(exc)))
    return out


def assert_all_same(op: str, *args: Any) -> None:
    first, *rest = results(op, *args)
    for other in rest:
        if isinstance(first, tuple) and isinstance(first[0], type):
            assert other == first
        else:
            assert same(first, other), (op, first, other)


UNARY = ["list_sum", "list_product", "list_mean", "list_min", "list_max", "list_variance",
         "list_std", "list_moments", "sort_asc"]  # fmt: skip
BINARY = ["dot_product", "vec_add", "vec_sub", "vec_mul", "vec_div", "cosine_similarity"]
WITH_SCALAR = ["vec_scale", "map_add", "map_mul", "filter_gt", "find_index", "count_value"]


@pytest.mark.parametrize("op", UNARY)
@given(values=vectors, kind=kinds)
def test_unary_ops_agree_bit_for_bit_across_implementations(op: str, values: list[Any], kind: str) -> None:
    if kind not in ("list", "tuple") and any(abs(v) > 1e300 for v in values if isinstance(v, int)):
        return
    assert_all_same(op, as_kind(values, kind))


@pytest.mark.parametrize("op", BINARY)
@given(data=st.data(), kind_a=kinds, kind_b=kinds)
def test_binary_ops_agree_bit_for_bit_across_implementations(
    op: str, data: st.DataObject, kind_a: str, kind_b: str
) -> None:
    n = data.draw(st.integers(min_value=0, max_value=70))
    a = data.draw(st.lists(st.one_of(any_float, huge_or_tiny, st.integers(-(2**60), 2**60)), min_size=n, max_size=n))
    b = data.draw(st.lists(st.one_of(any_float, huge_or_tiny, st.integers(-(2**60), 2**60)), min_size=n, max_size=n))
    assert_all_same(op, as_kind(a, kind_a), as_kind(b, kind_b))


@pytest.mark.parametrize("op", WITH_SCALAR)
@given(values=vectors, kind=kinds, value=scalar)
def test_scalar_ops_agree_bit_for_bit_across_implementations(
    op: str, values: list[Any], kind: str, value: float
) -> None:
    if kind not in ("list", "tuple") and any(abs(v) > 1e300 for v in values if isinstance(v, int)):
        return
    assert_all_same(op, as_kind(values, kind), value)


@given(data=st.data(), kind=kinds)
def test_matrix_ops_agree_bit_for_bit_across_implementations(data: st.DataObject, kind: str) -> None:
    rows, inner, cols = (data.draw(st.integers(0, 6)) for _ in range(3))
    a = data.draw(st.lists(any_float, min_size=rows * inner, max_size=rows * inner))
    b = data.draw(st.lists(any_float, min_size=inner * cols, max_size=inner * cols))
    assert_all_same("mat_mul", as_kind(a, kind), as_kind(b, kind), rows, inner, cols)
    assert_all_same("mat_transpose", as_kind(a, kind), rows, inner)


@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=200), kind=kinds)
def test_list_sum_is_correctly_rounded_like_fsum(values: list[float], kind: str) -> None:
    try:
        expected = math.fsum(values)
    except OverflowError:
        return  # fsum gives up; the engine's answer is checked in test_engine_sums.py
    for impl in IMPLS:
        got = impl.list_sum(as_kind(values, kind))
        assert got == expected
    for impl in IMPLS:
        if values:
            assert impl.list_mean(as_kind(values, kind)) == expected / len(values)


@given(a=well_scaled, data=st.data())
def test_reductions_match_numpy_on_well_scaled_input(a: list[float], data: st.DataObject) -> None:
    b = data.draw(st.lists(st.floats(-1e6, 1e6), min_size=len(a), max_size=len(a)))
    na, nb = np.array(a), np.array(b)
    scale = float(np.sum(np.abs(na * nb))) + 1e-300
    for impl in IMPLS:
        assert abs(impl.dot_product(a, b) - float(np.dot(na, nb))) <= 1e-13 * scale
        assert impl.list_product([1.5] * 3 + a[:3]) == pytest.approx(float(np.prod([1.5] * 3 + a[:3])), rel=1e-12)
        assert impl.sort_asc(a) == sorted(a)
        assert impl.filter_gt(a, 0.5) == [x for x in a if x > 0.5]
        assert impl.vec_mul(a, b) == (na * nb).tolist()
        if a:
            assert impl.list_min(a) == float(np.min(na)) and impl.list_max(a) == float(np.max(na))
            assert impl.list_variance(a) == pytest.approx(float(np.var(na)), rel=1e-9, abs=1e-6)
            n, mean, m2, lo, hi = impl.list_moments(a)
            assert (n, lo, hi) == (len(a), float(np.min(na)), float(np.max(na)))
            assert mean == pytest.approx(float(np.mean(na)), rel=1e-12, abs=1e-9)
            assert m2 == pytest.approx(float(np.var(na)) * len(a), rel=1e-9, abs=1e-6)
        if len(a) > 1:
            assert impl.list_std(a, ddof=1) == pytest.approx(float(np.std(na, ddof=1)), rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("kind", ["list", "numpy"])
def test_moments_stay_accurate_where_sums_of_squares_cancel(kind: str) -> None:
    # 1e9 plus unit noise over many blocks: sum(x**2) - n * mean**2 would lose every digit.
    noise = np.random.default_rng(7).normal(0.0, 1.0, 10_000)
    values = as_kind((1e9 + noise).tolist(), kind)
    for impl in IMPLS:
        n, mean, m2, _, _ = impl.list_moments(values)
        assert n == 10_000
        assert mean == pytest.approx(1e9 + float(np.mean(noise)), rel=1e-15)
        assert m2 / (n - 1) == pytest.approx(float(np.var(1e9 + noise, ddof=1)), rel=1e-9)


@given(data=st.data())
def test_matrix_ops_match_numpy(data: st.DataObject) -> None:
    rows, inner, cols = (data.draw(st.integers(1, 7)) for _ in range(3))
    a = data.draw(st.lists(st.floats(-1e3, 1e3), min_size=rows * inner, max_size=rows * inner))
    b = data.draw(st.lists(st.floats(-1e3, 1e3), min_size=inner * cols, max_size=inner * cols))
    expected = (np.array(a).reshape(rows, inner) @ np.array(b).reshape(inner, cols)).ravel()
    for impl in IMPLS:
        assert np.allclose(impl.mat_mul(a, b, rows, inner, cols), expected, rtol=1e-12, atol=1e-9)
        assert impl.mat_transpose(a, rows, inner) == np.array(a).reshape(rows, inner).T.ravel().tolist()


def test_large_inputs_agree_across_chunks_and_kinds() -> None:
    rng = np.random.default_rng(7)
    a = (rng.standard_normal(100_003) * 1e3).tolist()
    b = rng.standard_normal(100_003).tolist()
    for op in ("list_sum", "list_variance", "list_moments", "list_min", "sort_asc"):
        for kind in KINDS:
            assert_all_same(op, as_kind(a, kind))
    for kind in KINDS:
        assert_all_same("dot_product", as_kind(a, kind), b)
        assert_all_same("cosine_similarity", a, as_kind(b, kind))
        assert_all_same("vec_div", as_kind(a, kind), b)


def _numpy_reference(op: str, a: np.ndarray, b: np.ndarray, value: float) -> Any:
    """What numpy computes for each op, on the same float64 data."""
    return {
        "list_sum": lambda: float(np.sum(a)),
        "list_product": lambda: float(np.prod(a[:8])),
        "list_mean": lambda: float(np.mean(a)),
        "list_min": lambda: float(np.min(a)),
        "list_max": lambda: float(np.max(a)),
        "list_variance": lambda: float(np.var(a)),
        "list_std": lambda: float(np.std(a)),
        "list_moments": lambda: (a.size, float(np.mean(a)), float(np.var(a) * a.size), float(a.min()), float(a.max())),
        "dot_product": lambda: float(np.dot(a, b)),
        "cosine_similarity": lambda: float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))),
        "vec_add": lambda: a + b,
        "vec_sub": lambda: a - b,
        "vec_mul": lambda: a * b,
        "vec_div": lambda: a / b,
        "vec_scale": lambda: a * value,
        "map_add": lambda: a + value,
        "map_mul": lambda: a * value,
        "filter_gt": lambda: a[a > value],
        "sort_asc": lambda: np.sort(a),
        "find_index": lambda: int(np.flatnonzero(a == value)[0]) if (a == value).any() else -1,
        "count_value": lambda: int(np.count_nonzero(a == value)),
    }[op]()


def _engine_call(impl: Any, op: str, a: np.ndarray, b: np.ndarray, value: float) -> Any:
    if op in BINARY:
        return getattr(impl, op)(a, b)
    if op in WITH_SCALAR:
        return getattr(impl, op)(a, value)
    return getattr(impl, op)(a[:8] if op == "list_product" else a)


@pytest.mark.parametrize("op", UNARY + BINARY + WITH_SCALAR)
@given(data=st.data())
def test_every_op_matches_numpy_on_well_scaled_input(op: str, data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=60))
    # Well scaled: no magnitudes whose squares underflow (numpy's norm gives 0 for those).
    finite = st.one_of(
        st.floats(-1e6, 1e6).filter(lambda x: x == 0 or abs(x) > 1e-100),
        st.integers(-1000, 1000).map(float),
    )
    a = np.array(data.draw(st.lists(finite, min_size=n, max_size=n)))
    b = np.array(data.draw(st.lists(finite.filter(lambda x: abs(x) > 1e-3), min_size=n, max_size=n)))
    if op == "cosine_similarity" and not (a.any() and b.any()):
        return
    value = data.draw(st.sampled_from([0.0, 1.5, float(a[0])]))
    expected = _numpy_reference(op, a, b, value)
    for impl in IMPLS:
        got = _engine_call(impl, op, a, b, value)
        if isinstance(expected, np.ndarray):
            assert isinstance(got, np.ndarray)
            np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0)
        elif isinstance(expected, int):
            assert got == expected
        elif isinstance(expected, tuple):
            scale = float(np.max(np.abs(a)) ** 2) * a.size
            assert got[0] == expected[0] and got[3:] == expected[3:]
            assert got[1:3] == pytest.approx(expected[1:3], rel=1e-9, abs=1e-12 * (scale + 1))
        else:
            scale = float(np.sum(np.abs(a * b))) if op == "dot_product" else float(np.max(np.abs(a)) ** 2)
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-12 * (scale + 1))
