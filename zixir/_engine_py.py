"""Pure-Python twin of the compiled engine, with the same inputs, errors and results.

Used when the extension is not built, or when ``ZIXIR_PUREPYTHON=1``. Reductions follow the
kernels' lane order exactly, so both implementations give bit-identical floats.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

from zixir._engine_common import (
    LANES,
    as_buffer,
    as_sequence,
    check_ddof,
    check_matrix,
    empty_input,
    exact_mean,
    exact_sum,
    length_mismatch,
    like_input,
    not_numeric,
    number,
    too_large,
)
from zixir.errors import ZeroVectorError

__all__ = [
    "cosine_similarity",
    "count_value",
    "dot_product",
    "filter_gt",
    "find_index",
    "list_max",
    "list_mean",
    "list_min",
    "list_product",
    "list_std",
    "list_sum",
    "list_variance",
    "map_add",
    "map_mul",
    "mat_mul",
    "mat_transpose",
    "sort_asc",
    "vec_add",
    "vec_div",
    "vec_mul",
    "vec_scale",
    "vec_sub",
]


class _Vec:
    """One numeric input as a list of floats, remembering the kind it came in."""

    __slots__ = ("is_buffer", "source", "values")

    def __init__(self, op: str, arg: str, value: Any) -> None:
        self.source = value
        seq = as_sequence(op, arg, value)
        self.is_buffer = seq is None
        if seq is None:
            self.values: list[float] = as_buffer(op, arg, value).tolist()  # type: ignore[assignment]
            return
        values = []
        for index, item in enumerate(seq):
            if isinstance(item, float):
                values.append(float(item))
            elif isinstance(item, int):
                try:
                    values.append(float(item))
                except OverflowError:
                    raise too_large(op, arg, index) from None
            else:
                raise not_numeric(op, arg, index, item)
        self.values = values

    def result(self, values: list[float]) -> Any:
        return like_input(self.source, array("d", values)) if self.is_buffer else values


def _pair(op: str, a: Any, b: Any) -> tuple[_Vec, _Vec]:
    va, vb = _Vec(op, "a", a), _Vec(op, "b", b)
    if len(va.values) != len(vb.values):
        raise length_mismatch(op, len(va.values), len(vb.values))
    return va, vb


def _lanes_total(lanes: list[float]) -> float:
    total = lanes[0]
    for lane in lanes[1:]:
        total += lane
    return total


def _dot(a: list[float], b: list[float]) -> float:
    lanes = []
    for k in range(LANES):
        acc = 0.0
        for x, y in zip(a[k::LANES], b[k::LANES]):
            acc += x * y
        lanes.append(acc)
    return _lanes_total(lanes)


def _mean(op: str, values: list[float]) -> float:
    if not values:
        raise empty_input(op)
    return exact_mean(values, len(values))


def _extreme(op: str, values: list[float], sign: int) -> float:
    if not values:
        raise empty_input(op)
    acc = values[0]
    for v in values:
        if math.isnan(acc):
            break
        if math.isnan(v) or (v > acc if sign > 0 else v < acc):
            acc = v
    return acc


def _variance(op: str, xs: Any, ddof: object) -> float:
    values = _Vec(op, "xs", xs).values
    dof = check_ddof(op, len(values), ddof)
    center = _mean(op, values)
    lanes = []
    for k in range(LANES):
        acc = 0.0
        for x in values[k::LANES]:
            d = x - center
            acc += d * d
        lanes.append(acc)
    return _lanes_total(lanes) / (len(values) - dof)


def _divide(x: float, y: float) -> float:
    # IEEE division: Python raises ZeroDivisionError where C gives inf or nan.
    if y != 0.0:
        return x / y
    if x == 0.0 or math.isnan(x):
        return math.nan
    return math.copysign(math.inf, x) * math.copysign(1.0, y)


def list_sum(xs: Any) -> float:
    return exact_sum(_Vec("list_sum", "xs", xs).values)


def list_product(xs: Any) -> float:
    acc = 1.0
    for v in _Vec("list_product", "xs", xs).values:
        acc *= v
    return acc


def list_mean(xs: Any) -> float:
    return _mean("list_mean", _Vec("list_mean", "xs", xs).values)


def list_min(xs: Any) -> float:
    return _extreme("list_min", _Vec("list_min", "xs", xs).values, -1)


def list_max(xs: Any) -> float:
    return _extreme("list_max", _Vec("list_max", "xs", xs).values, 1)


def list_variance(xs: Any, ddof: int = 0) -> float:
    return _variance("list_variance", xs, ddof)


def list_std(xs: Any, ddof: int = 0) -> float:
    return math.sqrt(_variance("list_std", xs, ddof))


def dot_product(a: Any, b: Any) -> float:
    va, vb = _pair("dot_product", a, b)
    return _dot(va.values, vb.values)


def cosine_similarity(a: Any, b: Any) -> float:
    va, vb = _pair("cosine_similarity", a, b)
    ab, aa, bb = _dot(va.values, vb.values), _dot(va.values, va.values), _dot(vb.values, vb.values)
    if aa == 0.0 or bb == 0.0:
        raise ZeroVectorError(
            f"cosine_similarity: {'a' if aa == 0.0 else 'b'} is a zero vector, "
            "so its direction (and the similarity) is undefined"
        )
    return ab / (math.sqrt(aa) * math.sqrt(bb))


def vec_add(a: Any, b: Any) -> Any:
    va, vb = _pair("vec_add", a, b)
    return va.result([x + y for x, y in zip(va.values, vb.values)])


def vec_sub(a: Any, b: Any) -> Any:
    va, vb = _pair("vec_sub", a, b)
    return va.result([x - y for x, y in zip(va.values, vb.values)])


def vec_mul(a: Any, b: Any) -> Any:
    va, vb = _pair("vec_mul", a, b)
    return va.result([x * y for x, y in zip(va.values, vb.values)])


def vec_div(a: Any, b: Any) -> Any:
    va, vb = _pair("vec_div", a, b)
    return va.result([_divide(x, y) for x, y in zip(va.values, vb.values)])


def vec_scale(xs: Any, scalar: Any) -> Any:
    v = _Vec("vec_scale", "xs", xs)
    factor = number("vec_scale", "scalar", scalar)
    return v.result([x * factor for x in v.values])


def map_add(xs: Any, value: Any) -> Any:
    v = _Vec("map_add", "xs", xs)
    term = number("map_add", "value", value)
    return v.result([x + term for x in v.values])


def map_mul(xs: Any, value: Any) -> Any:
    v = _Vec("map_mul", "xs", xs)
    factor = number("map_mul", "value", value)
    return v.result([x * factor for x in v.values])


def filter_gt(xs: Any, threshold: Any) -> Any:
    v = _Vec("filter_gt", "xs", xs)
    limit = number("filter_gt", "threshold", threshold)
    return v.result([x for x in v.values if x > limit])


def find_index(xs: Any, value: Any) -> int:
    values = _Vec("find_index", "xs", xs).values
    target = number("find_index", "value", value)
    return next((i for i, x in enumerate(values) if x == target), -1)


def count_value(xs: Any, value: Any) -> int:
    values = _Vec("count_value", "xs", xs).values
    target = number("count_value", "value", value)
    return sum(1 for x in values if x == target)


def sort_asc(xs: Any) -> Any:
    v = _Vec("sort_asc", "xs", xs)
    numbers = sorted(x for x in v.values if not math.isnan(x))
    return v.result(numbers + [math.nan] * (len(v.values) - len(numbers)))


def mat_mul(a: Any, b: Any, a_rows: int, a_cols: int, b_cols: int) -> Any:
    va, vb = _Vec("mat_mul", "a", a), _Vec("mat_mul", "b", b)
    rows, inner = check_matrix("mat_mul", "a", len(va.values), ("a_rows", a_rows), ("a_cols", a_cols))
    _, cols = check_matrix("mat_mul", "b", len(vb.values), ("a_cols", inner), ("b_cols", b_cols))
    left, right = va.values, vb.values
    out = []
    for i in range(rows):
        for j in range(cols):
            acc = 0.0
            for k in range(inner):
                acc += left[i * inner + k] * right[k * cols + j]
            out.append(acc)
    return va.result(out)


def mat_transpose(m: Any, rows: int, cols: int) -> Any:
    v = _Vec("mat_transpose", "m", m)
    r, c = check_matrix("mat_transpose", "m", len(v.values), ("rows", rows), ("cols", cols))
    return v.result([v.values[i * c + j] for j in range(c) for i in range(r)])
