"""Bad input gets a typed error that names the argument, never a silent 0.0."""

from __future__ import annotations

from array import array

import numpy as np
import pytest

from zixir import engine
from zixir.errors import (
    EmptyInputError,
    LengthMismatchError,
    NotNumericError,
    ShapeError,
    UnknownOperationError,
    ZeroVectorError,
    ZixirError,
)


def test_mismatched_lengths_name_both_lengths() -> None:
    with pytest.raises(
        LengthMismatchError, match=r"^dot_product: a has 3 elements but b has 2; pass vectors of equal length$"
    ) as info:
        engine.dot_product([1, 2, 3], [1, 2])
    assert info.value.lengths == (3, 2)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ZixirError)
    for op in ("vec_add", "vec_sub", "vec_mul", "vec_div", "cosine_similarity"):
        with pytest.raises(LengthMismatchError, match=rf"^{op}: a has 1 elements but b has 0"):
            engine.run(op, [1.0], array("d"))


def test_a_non_numeric_element_is_named_by_index_and_type() -> None:
    with pytest.raises(NotNumericError, match=r"^list_sum: xs\[2\] is str 'x', expected int or float$") as info:
        engine.list_sum([1.0, 2, "x", 4.0])
    assert info.value.index == 2 and isinstance(info.value, TypeError)
    with pytest.raises(NotNumericError, match=r"^dot_product: b\[1\] is NoneType None, expected int or float$"):
        engine.dot_product([1.0, 2.0], (3.0, None))
    # An error far past the first chunk still names its own index.
    with pytest.raises(NotNumericError, match=r"^list_max: xs\[5000\] is complex"):
        engine.list_max([1.0] * 5000 + [1j])


def test_an_element_found_after_a_nan_is_still_checked() -> None:
    with pytest.raises(NotNumericError, match=r"xs\[3\]"):
        engine.list_min([float("nan"), 1.0, 2.0, "3"])
    with pytest.raises(NotNumericError, match=r"xs\[2\]"):
        engine.find_index([7.0, 1.0, b"x"], 7.0)


def test_an_int_too_large_for_a_float_is_an_overflow_error() -> None:
    with pytest.raises(OverflowError, match=r"^list_sum: xs\[1\] is an int too large to convert to float64$"):
        engine.list_sum([1, 10**400])
    with pytest.raises(OverflowError, match=r"^map_add: value is an int too large to convert to float64$"):
        engine.map_add([1.0], 10**400)


def test_scalar_arguments_must_be_numbers() -> None:
    with pytest.raises(NotNumericError, match=r"^filter_gt: threshold is str '1', expected int or float$"):
        engine.filter_gt([1.0], "1")


def test_inputs_that_are_not_vectors_are_refused() -> None:
    with pytest.raises(
        NotNumericError, match=r"^list_sum: xs is str, expected a list, tuple or float64 buffer of numbers$"
    ):
        engine.list_sum("123")
    with pytest.raises(NotNumericError, match=r"^list_sum: xs is int, expected a list"):
        engine.list_sum(5)
    with pytest.raises(
        NotNumericError,
        match=r"^list_sum: xs is a buffer of format 'l', expected float64 \('d'\); "
        r"convert it with array\('d', x\) or numpy's x.astype\(float\)$",
    ):
        engine.list_sum(np.arange(3))
    with pytest.raises(
        ShapeError,
        match=r"^list_sum: xs is a 2-dimensional buffer, expected one dimension; "
        r"flatten it first \(numpy: x.ravel\(\)\)$",
    ):
        engine.list_sum(np.zeros((2, 2)))


@pytest.mark.parametrize("op", ["list_mean", "list_min", "list_max", "list_variance", "list_std", "list_moments"])
def test_empty_input_has_no_answer_where_none_exists(op: str) -> None:
    name = op.removeprefix("list_")
    with pytest.raises(EmptyInputError, match=rf"^{op}: the input is empty and has no {name}$"):
        engine.run(op, [])


def test_empty_input_has_the_neutral_answer_where_one_exists() -> None:
    assert engine.list_sum([]) == 0.0 and engine.list_product([]) == 1.0
    assert engine.dot_product([], []) == 0.0 and engine.sort_asc([]) == []
    assert engine.find_index([], 1) == -1 and engine.count_value([], 1) == 0


def test_ddof_must_leave_at_least_one_degree_of_freedom() -> None:
    with pytest.raises(
        ValueError,
        match=r"^list_variance: ddof=2 needs more than 2 values, got 2; use ddof=0 for the population variance$",
    ):
        engine.list_variance([1.0, 2.0], ddof=2)
    with pytest.raises(ValueError, match=r"^list_std: ddof must be a non-negative int, got -1$"):
        engine.list_std([1.0, 2.0], ddof=-1)


def test_matrix_shapes_are_checked() -> None:
    with pytest.raises(ShapeError, match=r"^mat_mul: a has 5 elements but a_rows \* a_cols = 2 \* 3 = 6$"):
        engine.mat_mul([1.0] * 5, [1.0] * 6, 2, 3, 2)
    with pytest.raises(ShapeError, match=r"^mat_mul: b has 5 elements but a_cols \* b_cols = 3 \* 2 = 6$"):
        engine.mat_mul([1.0] * 6, [1.0] * 5, 2, 3, 2)
    with pytest.raises(ShapeError, match=r"^mat_transpose: rows must be a non-negative int, got -1$"):
        engine.mat_transpose([], -1, 0)
    with pytest.raises(ShapeError, match=r"^mat_transpose: cols must be a non-negative int, got 1.5$"):
        engine.mat_transpose([1.0], 1, 1.5)  # type: ignore[arg-type]


def test_a_zero_vector_has_no_cosine_similarity() -> None:
    with pytest.raises(
        ZeroVectorError,
        match=r"^cosine_similarity: b is a zero vector, so its direction \(and the similarity\) is undefined$",
    ):
        engine.cosine_similarity([1.0, 2.0], [0.0, 0.0])


def test_unknown_operations_list_the_valid_ones() -> None:
    with pytest.raises(
        UnknownOperationError,
        match=r"^unknown engine operation 'dot_prodcut'; did you mean 'dot_product'\? "
        r"valid operations: cosine_similarity, count_value, dot_product, ",
    ):
        engine.run("dot_prodcut", [1.0], [1.0])
