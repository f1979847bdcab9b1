"""Pure-Python twin of the compiled engine, with the same inputs, errors and results.

Used when the extension is not built, or when ``ZIXIR_PUREPYTHON=1``. Reductions follow the
kernels' lane order exactly, so both implementations give bit-identical floats.
"""

from __future__ import annotations

import math
import sys
from array import array
from typing import Any

from zixir._engine_common import (
    CHUNK,
    LANES,
    as_buffer,
    as_sequence,
    changed_size,
    check_ddof,
    check_matrix,
    dimension,
    element,
    empty_input,
    exact_mean,
    exact_sum,
    length_mismatch,
    like_input,
    number,
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
    """One numeric input, taken in two steps as in the compiled engine.

    Building it only takes the container (an iterable is drained into a list, a buffer is
    read); `read` converts the elements later, once every argument has been taken, so both
    engines see an input as it is after any code that the other arguments ran.
    """

    __slots__ = ("arg", "is_buffer", "n", "op", "seq", "source", "values")

    def __init__(self, op: str, arg: str, value: Any) -> None:
        self.op, self.arg, self.source = op, arg, value
        self.seq = as_sequence(op, arg, value)
        self.is_buffer = self.seq is None
        self.values: list[float] = []
        if self.seq is None:
            self.values = as_buffer(op, arg, value).tolist()  # type: ignore[assignment]
        self.n = len(self.values) if self.seq is None else len(self.seq)

    def size(self) -> int:
        """The number of elements now (a list may have changed since it was taken)."""
        if self.seq is not None:
            self.n = len(self.seq)
        return self.n

    def read(self, start: int, stop: int) -> None:
        """Converts the elements in [start, stop), checking that the list kept its size."""
        if self.seq is None:
            return
        items = self.seq[start:stop]  # one step: another thread cannot split it
        if len(self.seq) != self.n or len(items) != stop - start:
            raise changed_size(self.op, self.arg, self.n, len(self.seq))
        op, arg, values = self.op, self.arg, self.values
        for index, item in enumerate(items, start):
            values.append(element(op, arg, index, item))

    def result(self, values: list[float]) -> Any:
        return like_input(self.source, array("d", values)) if self.is_buffer else values


def _read(*vectors: _Vec) -> None:
    """Reads vectors of equal length chunk by chunk, in the compiled engine's order."""
    n = vectors[0].n
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        for v in vectors:
            v.read(start, stop)


def _one(op: str, arg: str, xs: Any) -> _Vec:
    v = _Vec(op, arg, xs)
    v.size()
    _read(v)
    return v


def _pair(op: str, a: Any, b: Any) -> tuple[_Vec, _Vec]:
    va, vb = _Vec(op, "a", a), _Vec(op, "b", b)
    if va.size() != vb.size():
        raise length_mismatch(op, va.n, vb.n)
    _read(va, vb)
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


def _variance(op: str, xs: Any, ddof: object) -> tuple[float, int]:
    """The variance as v * 2**(2 * e): scaled when squares could overflow or vanish."""
    v = _Vec(op, "xs", xs)
    dof = check_ddof(op, v.size(), ddof)
    _read(v)
    values = v.values
    center = _mean(op, values)
    fast = _sqdev(values, center, (1.0, 1.0)) / (len(values) - dof)
    if not _needs_scaling(fast) or not all(map(math.isfinite, values)) or not any(values):
        return fast, 0
    scale = _scale(values)
    center = center * scale[0] * scale[1]
    return _sqdev(values, center, scale) / (len(values) - dof), _exponent(values)


def _sqdev(values: list[float], center: float, scale: tuple[float, float]) -> float:
    s0, s1 = scale
    lanes = []
    for k in range(LANES):
        acc = 0.0
        for x in values[k::LANES]:
            d = x * s0 * s1 - center  # a scale of 1.0 changes nothing
            acc += d * d
        lanes.append(acc)
    return _lanes_total(lanes)


def _needs_scaling(r: float) -> bool:
    # As zx_needs_scaling: inf, nan, or so small that rounded-away products could matter.
    return not (2.0**-968 <= abs(r) <= sys.float_info.max)


# As ZX_SCALE_TARGET: scaled values have their largest magnitude in [2**479, 2**480).
_SCALE_TARGET = 480


def _exponent(values: list[float]) -> int:
    """The power of two that undoes `_scale` on these values."""
    return math.frexp(max(abs(x) for x in values))[1] - _SCALE_TARGET


def _ldexp(x: float, e: int) -> float:
    # C's ldexp gives ±inf where Python's raises.
    try:
        return math.ldexp(x, e)
    except OverflowError:
        return math.copysign(math.inf, x)


def _divide(x: float, y: float) -> float:
    # IEEE division: Python raises ZeroDivisionError where C gives inf or nan.
    if y != 0.0:
        return x / y
    if x == 0.0 or math.isnan(x):
        return math.nan
    return math.copysign(math.inf, x) * math.copysign(1.0, y)


def _scale(values: list[float]) -> tuple[float, float]:
    """Two powers of two whose product brings the largest magnitude of finite, non-zero
    values into [2**479, 2**480); applied as ``(x * s1) * s2`` (one factor alone may not
    exist). Small values are scaled up, never down, so none becomes subnormal."""
    shift = -_exponent(values)
    if shift <= 1023:
        return math.ldexp(1.0, shift), 1.0
    return math.ldexp(1.0, 600), math.ldexp(1.0, shift - 600)


def _cosine(a: list[float], b: list[float]) -> float:
    ab, aa, bb = _dot(a, b), _dot(a, a), _dot(b, b)
    if _needs_scaling(ab) or _needs_scaling(aa) or _needs_scaling(bb):
        # Overflow, or products too small to trust: look at the magnitudes, then scale.
        for name, values in (("a", a), ("b", b)):
            if all(x == 0.0 for x in values):
                raise ZeroVectorError(
                    f"cosine_similarity: {name} is a zero vector, so its direction (and the similarity) is undefined"
                )
        if not all(math.isfinite(x) for x in a) or not all(math.isfinite(y) for y in b):
            return math.nan
        (a1, a2), (b1, b2) = _scale(a), _scale(b)
        lanes_ab, lanes_aa, lanes_bb = [0.0] * LANES, [0.0] * LANES, [0.0] * LANES
        for i, (x, y) in enumerate(zip(a, b)):
            x, y, k = x * a1 * a2, y * b1 * b2, i % LANES
            lanes_ab[k] += x * y
            lanes_aa[k] += x * x
            lanes_bb[k] += y * y
        ab, aa, bb = _lanes_total(lanes_ab), _lanes_total(lanes_aa), _lanes_total(lanes_bb)
    r = ab / (math.sqrt(aa) * math.sqrt(bb))
    return min(1.0, max(-1.0, r))


def list_sum(xs: Any) -> float:
    return exact_sum(_one("list_sum", "xs", xs).values)


def list_product(xs: Any) -> float:
    acc = 1.0
    for v in _one("list_product", "xs", xs).values:
        acc *= v
    return acc


def list_mean(xs: Any) -> float:
    return _mean("list_mean", _one("list_mean", "xs", xs).values)


def list_min(xs: Any) -> float:
    return _extreme("list_min", _one("list_min", "xs", xs).values, -1)


def list_max(xs: Any) -> float:
    return _extreme("list_max", _one("list_max", "xs", xs).values, 1)


def list_variance(xs: Any, ddof: int = 0) -> float:
    scaled, e = _variance("list_variance", xs, ddof)
    return _ldexp(scaled, 2 * e)


def list_std(xs: Any, ddof: int = 0) -> float:
    scaled, e = _variance("list_std", xs, ddof)
    return _ldexp(math.sqrt(scaled), e)


def dot_product(a: Any, b: Any) -> float:
    va, vb = _pair("dot_product", a, b)
    fast = _dot(va.values, vb.values)
    a_, b_ = va.values, vb.values
    if not _needs_scaling(fast) or not all(map(math.isfinite, a_ + b_)) or not any(a_) or not any(b_):
        return fast
    # Overflowed or underflowed products: again on both vectors scaled by powers of two.
    (a1, a2), (b1, b2) = _scale(a_), _scale(b_)
    lanes = [0.0] * LANES
    for i, (x, y) in enumerate(zip(a_, b_)):
        lanes[i % LANES] += (x * a1 * a2) * (y * b1 * b2)
    return _ldexp(_lanes_total(lanes), _exponent(a_) + _exponent(b_))


def cosine_similarity(a: Any, b: Any) -> float:
    va, vb = _pair("cosine_similarity", a, b)
    return _cosine(va.values, vb.values)


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


def _with_scalar(op: str, arg: str, xs: Any, scalar: Any) -> tuple[_Vec, float]:
    v = _Vec(op, "xs", xs)
    value = number(op, arg, scalar)
    v.size()
    _read(v)
    return v, value


def vec_scale(xs: Any, scalar: Any) -> Any:
    v, factor = _with_scalar("vec_scale", "scalar", xs, scalar)
    return v.result([x * factor for x in v.values])


def map_add(xs: Any, value: Any) -> Any:
    v, term = _with_scalar("map_add", "value", xs, value)
    return v.result([x + term for x in v.values])


def map_mul(xs: Any, value: Any) -> Any:
    v, factor = _with_scalar("map_mul", "value", xs, value)
    return v.result([x * factor for x in v.values])


def filter_gt(xs: Any, threshold: Any) -> Any:
    v, limit = _with_scalar("filter_gt", "threshold", xs, threshold)
    return v.result([x for x in v.values if x > limit])


def find_index(xs: Any, value: Any) -> int:
    v, target = _with_scalar("find_index", "value", xs, value)
    return next((i for i, x in enumerate(v.values) if x == target), -1)


def list_moments(xs: Any) -> tuple[int, float, float, float, float]:
    values = _one("list_moments", "xs", xs).values
    if not values:
        raise empty_input("list_moments")
    n = mean = m2 = lo = hi = 0.0
    for start in range(0, len(values), CHUNK):
        block = values[start : start + CHUNK]
        nb = float(len(block))
        block_mean = _lane_sum(block) / nb
        block_m2 = _sqdev(block, block_mean, (1.0, 1.0))
        block_lo, block_hi = _lane_range(block)
        if n == 0.0:
            n, mean, m2, lo, hi = nb, block_mean, block_m2, block_lo, block_hi
            continue
        total = n + nb
        delta = block_mean - mean
        mean += delta * nb / total
        m2 += block_m2 + delta * delta * (n * nb / total)
        n = total
        if not math.isnan(lo):
            lo = block_lo if math.isnan(block_lo) or block_lo < lo else lo
            hi = block_hi if math.isnan(block_hi) or block_hi > hi else hi
    return len(values), mean, m2, lo, hi


def _lane_range(block: list[float]) -> tuple[float, float]:
    """Min and max as zx_sum_range_feed finds them (lane by lane, so signed zeros agree)."""
    if any(math.isnan(x) for x in block):
        return math.nan, math.nan
    lows, highs = [], []
    for k in range(LANES):
        lo = hi = block[0]
        for x in block[k::LANES]:
            lo = x if x < lo else lo
            hi = x if x > hi else hi
        lows.append(lo)
        highs.append(hi)
    lo, hi = lows[0], highs[0]
    for k in range(1, LANES):
        lo = lows[k] if lows[k] < lo else lo
        hi = highs[k] if highs[k] > hi else hi
    return lo, hi


def _lane_sum(values: list[float]) -> float:
    lanes = []
    for k in range(LANES):
        acc = 0.0
        for x in values[k::LANES]:
            acc += x
        lanes.append(acc)
    return _lanes_total(lanes)


def count_value(xs: Any, value: Any) -> int:
    v, target = _with_scalar("count_value", "value", xs, value)
    return sum(1 for x in v.values if x == target)


def sort_asc(xs: Any) -> Any:
    v = _one("sort_asc", "xs", xs)
    numbers = sorted(x for x in v.values if not math.isnan(x))
    return v.result(numbers + [math.nan] * (len(v.values) - len(numbers)))


def mat_mul(a: Any, b: Any, a_rows: int, a_cols: int, b_cols: int) -> Any:
    va, vb = _Vec("mat_mul", "a", a), _Vec("mat_mul", "b", b)
    a_rows, a_cols = dimension("mat_mul", "a_rows", a_rows), dimension("mat_mul", "a_cols", a_cols)
    b_cols = dimension("mat_mul", "b_cols", b_cols)
    rows, inner = check_matrix("mat_mul", "a", va.size(), ("a_rows", a_rows), ("a_cols", a_cols))
    _, cols = check_matrix("mat_mul", "b", vb.size(), ("a_cols", inner), ("b_cols", b_cols))
    _read(va)
    _read(vb)
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
    rows, cols = dimension("mat_transpose", "rows", rows), dimension("mat_transpose", "cols", cols)
    r, c = check_matrix("mat_transpose", "m", v.size(), ("rows", rows), ("cols", cols))
    _read(v)
    return v.result([v.values[i * c + j] for j in range(c) for i in range(r)])
