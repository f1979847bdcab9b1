"""Input checks, error messages and exact fallbacks shared by both engine implementations.

The compiled kernels and the pure-Python twin call these so that both accept the same
inputs, raise the same errors with the same words, and give the same results.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Iterable
from typing import Any

from zixir.errors import EmptyInputError, LengthMismatchError, NotNumericError, ShapeError

__all__ = [
    "CHUNK",
    "LANES",
    "as_buffer",
    "as_sequence",
    "changed_size",
    "check_ddof",
    "check_matrix",
    "degrees_of_freedom",
    "dimension",
    "element",
    "empty_input",
    "exact_mean",
    "exact_sum",
    "length_mismatch",
    "like_input",
    "not_numeric",
    "number",
    "too_large",
]

# Reductions spread element i over lane i % LANES; must equal ZX_LANES in _kernels.h.
LANES = 16
# Items of a list or tuple converted per step; must equal CHUNK in _engine.pyx, so that both
# engines meet a bad element of `a` or `b` in the same order.
CHUNK = 128

_FLOAT64_FORMATS = frozenset({"d", "@d", "=d", "<d" if sys.byteorder == "little" else ">d"})


def not_numeric(op: str, arg: str, index: int, value: object) -> NotNumericError:
    """The error for an element that is neither an int nor a float."""
    return NotNumericError(
        f"{op}: {arg}[{index}] is {type(value).__name__} {value!r:.40}, expected int or float",
        index,
    )


def too_large(op: str, arg: str, index: int) -> OverflowError:
    """The error for an int element too large to be a float64."""
    return OverflowError(f"{op}: {arg}[{index}] is an int too large to convert to float64")


def changed_size(op: str, arg: str, before: int, after: int) -> LengthMismatchError:
    """The error for a list that changed size while the engine was reading it."""
    return LengthMismatchError(
        f"{op}: {arg} had {before} elements when reading began and has {after} now; "
        "it was changed during the call (by another thread or a callback): pass a copy",
        (before, after),
    )


def element(op: str, arg: str, index: int, item: object) -> float:
    """One element of a list or tuple as a float, without running any of its own methods.

    A float (or float subclass) gives its stored value and an int (or bool, or int
    subclass) its exact value rounded to float64; a subclass's ``__float__`` is not called,
    so reading an input can never run code that changes it. The compiled engine reads
    elements the same way.
    """
    if isinstance(item, float):
        return float.__float__(item)
    if isinstance(item, int):
        try:
            return int.__float__(item)
        except OverflowError:
            raise too_large(op, arg, index) from None
    raise not_numeric(op, arg, index, item)


def length_mismatch(op: str, len_a: int, len_b: int) -> LengthMismatchError:
    """The error for two vectors of different lengths."""
    return LengthMismatchError(
        f"{op}: a has {len_a} elements but b has {len_b}; pass vectors of equal length",
        (len_a, len_b),
    )


def empty_input(op: str) -> EmptyInputError:
    """The error for an empty input where the operation has no answer."""
    return EmptyInputError(f"{op}: the input is empty and has no {op.removeprefix('list_')}")


def number(op: str, arg: str, value: object) -> float:
    """Checks a scalar argument and returns it as a float (no ``__float__`` of a subclass runs)."""
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, int):
        try:
            return int.__float__(value)
        except OverflowError:
            raise OverflowError(f"{op}: {arg} is an int too large to convert to float64") from None
    raise NotNumericError(f"{op}: {arg} is {type(value).__name__} {value!r:.40}, expected int or float")


def as_sequence(op: str, arg: str, value: object) -> list[Any] | tuple[Any, ...] | None:
    """Returns `value` as an exact list or tuple of items, or None if it is a buffer.

    A subclass of list or tuple is read through its own iteration into a new list, like any
    other iterable: the engines read the items of exact lists and tuples only, so that no
    overridden ``__len__`` or ``__getitem__`` can mislead them.

    Raises:
        NotNumericError: for str, bytes-like non-float64 buffers and non-iterables, and
            buffers that cannot be exported (numpy datetime64 and timedelta64 arrays).
    """
    if type(value) is list or type(value) is tuple:
        return value
    if isinstance(value, (str, bytes, bytearray)):
        raise NotNumericError(
            f"{op}: {arg} is {type(value).__name__}, expected a list, tuple or float64 buffer of numbers"
        )
    try:
        memoryview(value)  # type: ignore[arg-type]
        return None
    except TypeError:
        pass
    except (ValueError, BufferError) as exc:
        dtype = getattr(value, "dtype", None)
        what = f"an array of dtype {dtype}" if dtype is not None else f"a {type(value).__name__} buffer"
        raise NotNumericError(
            f"{op}: {arg} is {what}, which has no float64 values ({exc}); "
            "convert it to numbers first, e.g. numpy's x.astype(float)"
        ) from None
    if isinstance(value, Iterable):
        return list(value)
    raise NotNumericError(f"{op}: {arg} is {type(value).__name__}, expected a list, tuple or float64 buffer of numbers")


def as_buffer(op: str, arg: str, value: Any) -> memoryview[float]:
    """Returns a contiguous, one-dimensional float64 view of a buffer (copying if strided).

    Raises:
        NotNumericError: the buffer does not hold float64 values.
        ShapeError: the buffer is not one-dimensional.
    """
    view: memoryview[Any] = memoryview(value)
    if view.format not in _FLOAT64_FORMATS:
        raise NotNumericError(
            f"{op}: {arg} is a buffer of format {view.format!r}, expected float64 ('d'); "
            "convert it with array('d', x) or numpy's x.astype(float)"
        )
    if view.ndim != 1:
        raise ShapeError(
            f"{op}: {arg} is a {view.ndim}-dimensional buffer, expected one dimension; "
            "flatten it first (numpy: x.ravel())"
        )
    if not view.c_contiguous:
        view = memoryview(array("d", view.tobytes()))
    if view.format != "d":  # same layout, spelled with a byte-order prefix
        view = view.cast("B").cast("d")
    return view


def like_input(template: object, result: array[float]) -> Any:
    """Returns a buffer result as numpy if the input was a numpy array, else as array('d')."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(template, numpy.ndarray):
        return numpy.frombuffer(result, dtype=numpy.float64)
    return result


def dimension(op: str, name: str, dim: object) -> int:
    """Checks a matrix dimension and returns it as an exact int (an int subclass's methods never run)."""
    if not isinstance(dim, int) or isinstance(dim, bool) or int.__index__(dim) < 0:
        raise ShapeError(f"{op}: {name} must be a non-negative int, got {dim!r}")
    return int.__index__(dim)


def check_matrix(op: str, arg: str, size: int, rows: tuple[str, object], cols: tuple[str, object]) -> tuple[int, int]:
    """Checks that `size` elements make a row-major matrix of the (name, value) dimensions."""
    dims = [dimension(op, name, dim) for name, dim in (rows, cols)]
    if dims[0] * dims[1] != size:
        raise ShapeError(
            f"{op}: {arg} has {size} elements but {rows[0]} * {cols[0]} = {dims[0]} * {dims[1]} = {dims[0] * dims[1]}"
        )
    return dims[0], dims[1]


def degrees_of_freedom(op: str, ddof: object) -> int:
    """Checks `ddof` and returns it as an exact int (an int subclass's methods never run)."""
    if not isinstance(ddof, int) or isinstance(ddof, bool) or int.__index__(ddof) < 0:
        raise ValueError(f"{op}: ddof must be a non-negative int, got {ddof!r}")
    return int.__index__(ddof)


def check_ddof(op: str, count: int, ddof: object) -> int:
    """Checks the delta degrees of freedom of a variance of `count` values."""
    ddof = degrees_of_freedom(op, ddof)
    if count == 0:
        raise empty_input(op)
    if ddof >= count:
        raise ValueError(
            f"{op}: ddof={ddof} needs more than {ddof} values, got {count}; use ddof=0 for the population variance"
        )
    return ddof


def exact_sum(values: Iterable[float]) -> float:
    """The correctly rounded sum, with IEEE results for inf and nan.

    `math.fsum` is exact on finite input but raises where IEEE arithmetic gives inf or nan
    (inf + -inf, and intermediate overflow); those cases are answered here instead.
    """
    values = values if isinstance(values, (list, tuple, memoryview)) else list(values)
    try:
        return math.fsum(values)
    except ValueError:  # inf + -inf
        return math.nan
    except OverflowError:  # finite values overflowed on the way; inf and nan decide alone
        special = [v for v in values if not math.isfinite(v)]
        if special:
            try:
                return math.fsum(special)
            except ValueError:  # inf + -inf
                return math.nan
        total = _exact_fraction_sum(values)
        try:
            return total[0] / total[1]  # int / int is correctly rounded
        except OverflowError:
            return math.inf if total[0] > 0 else -math.inf


def exact_mean(values: Iterable[float], count: int) -> float:
    """The mean of `values` from their exact sum; finite input never overflows."""
    total = exact_sum(values)
    if math.isfinite(total) or not all(math.isfinite(v) for v in values):
        return total / count
    numerator, denominator = _exact_fraction_sum(values)
    return numerator / (denominator * count)  # int / int is correctly rounded


def _exact_fraction_sum(values: Iterable[float]) -> tuple[int, int]:
    # Every finite double is an integer multiple of 2**-1074, so the sum is an exact int.
    scale = 1 << 1074
    numerator = 0
    for v in values:
        top, bottom = float(v).as_integer_ratio()
        numerator += top * (scale // bottom)
    return numerator, scale
