"""Numeric kernels (Zixir's ``engine.*`` ops): sums, products, statistics, vectors, matrices.

Compiled from ``zixir/_engine.pyx`` when the extension is built; otherwise (with a
RuntimeWarning that names the fix), or when ``ZIXIR_PUREPYTHON=1``, a pure-Python twin
gives the same results. ``IMPLEMENTATION`` says which is live. Inputs are lists or tuples
of ints and floats, or float64 buffers (``array.array('d')``, numpy arrays, memoryviews);
see docs/engine.md for the details.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Literal, TypeAlias

from zixir import _compiled
from zixir.errors import UnknownOperationError

__all__ = [
    "IMPLEMENTATION",
    "OPS",
    "Vector",
    "cosine_similarity",
    "count_value",
    "dot_product",
    "filter_gt",
    "find_index",
    "list_max",
    "list_mean",
    "list_min",
    "list_moments",
    "list_product",
    "list_std",
    "list_sum",
    "list_variance",
    "map_add",
    "map_mul",
    "mat_mul",
    "mat_transpose",
    "run",
    "sort_asc",
    "vec_add",
    "vec_div",
    "vec_mul",
    "vec_scale",
    "vec_sub",
]

#: A list or tuple of ints and floats, or a one-dimensional float64 buffer.
Vector: TypeAlias = Sequence[float] | Any

_built = _compiled.import_compiled("zixir._engine")
if _built is None:
    from zixir import _engine_py

    _impl: ModuleType = _engine_py
else:
    _impl = _built
#: "cython" when the compiled extension runs, "python" for the pure-Python twin.
IMPLEMENTATION: Literal["cython", "python"] = "python" if _built is None else "cython"


def list_sum(xs: Vector) -> float:
    """The correctly rounded sum (equal to ``math.fsum`` on finite input).

    A compensated sum certifies its own rounding; only when it cannot does the exact
    (slower) path run. inf and nan follow IEEE; finite input whose sum exceeds the float
    range gives ±inf instead of fsum's OverflowError.

    Args:
        xs: The values.

    Returns:
        The sum; 0.0 for an empty input.

    Raises:
        NotNumericError: An element is not an int or float (the message names its index).
    """
    return float(_impl.list_sum(xs))


def list_product(xs: Vector) -> float:
    """The product, multiplied left to right; 1.0 for an empty input."""
    return float(_impl.list_product(xs))


def list_mean(xs: Vector) -> float:
    """The arithmetic mean: the correctly rounded sum divided by the count.

    Raises:
        EmptyInputError: `xs` is empty.
    """
    return float(_impl.list_mean(xs))


def list_min(xs: Vector) -> float:
    """The smallest value; nan if any value is nan (as numpy).

    Raises:
        EmptyInputError: `xs` is empty.
    """
    return float(_impl.list_min(xs))


def list_max(xs: Vector) -> float:
    """The largest value; nan if any value is nan (as numpy).

    Raises:
        EmptyInputError: `xs` is empty.
    """
    return float(_impl.list_max(xs))


def list_variance(xs: Vector, ddof: int = 0) -> float:
    """The variance by two passes around the exact mean (population variance by default).

    Args:
        xs: The values.
        ddof: Delta degrees of freedom: the divisor is ``len(xs) - ddof`` (1: sample).

    Raises:
        EmptyInputError: `xs` is empty.
        ValueError: `ddof` is negative, not an int, or not below the number of values.
    """
    return float(_impl.list_variance(xs, ddof))


def list_std(xs: Vector, ddof: int = 0) -> float:
    """The standard deviation: the square root of the variance, scaled so that it is finite
    (and non-zero) whenever the true deviation is, even where the variance is not."""
    return float(_impl.list_std(xs, ddof))


def list_moments(xs: Vector) -> tuple[int, float, float, float, float]:
    """Count, mean, M2 (the sum of squared deviations from the mean), min and max, in one
    pass over `xs`: what a batch of outcomes needs, read once.

    Blocks of 128 values are summed, then their squared deviations from the block's mean,
    while they are in cache; the blocks merge by Chan's update, which stays accurate where
    a sum of squares would cancel. The sample variance is ``m2 / (count - 1)``. Unlike
    `list_variance`, squares beyond the float range give inf (no rescaling pass).

    Raises:
        EmptyInputError: `xs` is empty.
    """
    n, mean, m2, lo, hi = _impl.list_moments(xs)
    return int(n), float(mean), float(m2), float(lo), float(hi)


def dot_product(a: Vector, b: Vector) -> float:
    """The dot product of two vectors of equal length.

    Products that overflow or underflow on the way to a representable answer are handled
    by scaling both vectors by powers of two: ``[1e200, 1e200] . [1e200, -1e200]`` is 0.0.

    Raises:
        LengthMismatchError: The lengths differ (the message names both).
    """
    return float(_impl.dot_product(a, b))


def cosine_similarity(a: Vector, b: Vector) -> float:
    """The cosine of the angle between two vectors, in [-1, 1].

    Right to a few ulps at any magnitude (scaled by powers of two before squaring when
    needed); nan if an element is inf or nan.

    Raises:
        ZeroVectorError: Either vector is all zeros (or empty), so has no direction.
        LengthMismatchError: The lengths differ.
    """
    return float(_impl.cosine_similarity(a, b))


def vec_add(a: Vector, b: Vector) -> Any:
    """Element-wise ``a + b``, in the kind of `a` (list, array.array('d') or numpy)."""
    return _impl.vec_add(a, b)


def vec_sub(a: Vector, b: Vector) -> Any:
    """Element-wise ``a - b``, in the kind of `a`."""
    return _impl.vec_sub(a, b)


def vec_mul(a: Vector, b: Vector) -> Any:
    """Element-wise ``a * b``, in the kind of `a`."""
    return _impl.vec_mul(a, b)


def vec_div(a: Vector, b: Vector) -> Any:
    """Element-wise ``a / b`` with IEEE results for zero divisors (±inf, nan)."""
    return _impl.vec_div(a, b)


def vec_scale(xs: Vector, scalar: float) -> Any:
    """Every element times `scalar`, in the kind of `xs`."""
    return _impl.vec_scale(xs, scalar)


def map_add(xs: Vector, value: float) -> Any:
    """Every element plus `value`, in the kind of `xs`."""
    return _impl.map_add(xs, value)


def map_mul(xs: Vector, value: float) -> Any:
    """Every element times `value`, in the kind of `xs`."""
    return _impl.map_mul(xs, value)


def filter_gt(xs: Vector, threshold: float) -> Any:
    """The elements strictly greater than `threshold`, in order, in the kind of `xs`."""
    return _impl.filter_gt(xs, threshold)


def find_index(xs: Vector, value: float) -> int:
    """The index of the first element equal to `value`, or -1 (nan is never found)."""
    return int(_impl.find_index(xs, value))


def count_value(xs: Vector, value: float) -> int:
    """How many elements equal `value` (compared as float64; nan never matches)."""
    return int(_impl.count_value(xs, value))


def sort_asc(xs: Vector) -> Any:
    """The values in ascending order, nan last, in the kind of `xs`."""
    return _impl.sort_asc(xs)


def mat_mul(a: Vector, b: Vector, a_rows: int, a_cols: int, b_cols: int) -> Any:
    """The matrix product of flat row-major matrices: ``a_rows x a_cols`` by ``a_cols x b_cols``.

    Returns:
        The ``a_rows x b_cols`` product, flat and row-major, in the kind of `a`.

    Raises:
        ShapeError: A dimension is negative, or a length does not match its dimensions.
    """
    return _impl.mat_mul(a, b, a_rows, a_cols, b_cols)


def mat_transpose(m: Vector, rows: int, cols: int) -> Any:
    """The transpose of a flat row-major ``rows x cols`` matrix (``cols x rows`` result).

    Raises:
        ShapeError: ``len(m) != rows * cols`` or a dimension is negative.
    """
    return _impl.mat_transpose(m, rows, cols)


#: Every operation by name, as `run` dispatches them.
OPS: dict[str, Callable[..., Any]] = {
    fn.__name__: fn
    for fn in (
        list_sum, list_product, list_mean, list_min, list_max, list_variance, list_std, list_moments,
        dot_product, vec_add, vec_sub, vec_mul, vec_div, vec_scale, map_add, map_mul,
        filter_gt, sort_asc, find_index, count_value, mat_mul, mat_transpose,
        cosine_similarity,
    )
}  # fmt: skip


def run(op: str, *args: Any, **kwargs: Any) -> Any:
    """Runs an operation by name, like Zixir's ``engine.op(args)``.

    Args:
        op: One of `OPS`, e.g. ``"dot_product"``.
        *args: The operation's arguments.
        **kwargs: Its keyword arguments (``ddof`` for the variance).

    Raises:
        UnknownOperationError: No operation has that name (the message lists them).
    """
    try:
        fn = OPS[op]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(op), OPS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UnknownOperationError(
            f"unknown engine operation {op!r}; {hint}valid operations: {', '.join(sorted(OPS))}"
        ) from None
    return fn(*args, **kwargs)
