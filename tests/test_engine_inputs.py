"""Every input kind is accepted, and vector results come back in the input's kind."""

from __future__ import annotations

import importlib.util
import os
import threading
from array import array
from collections import deque

import numpy as np
import pytest

from tests.engine_support import implementations
from zixir import _engine_py, engine


def test_engine_reports_which_implementation_is_live() -> None:
    # Worked out independently of the engine module: is the extension there, and is it wanted?
    built = importlib.util.find_spec("zixir._engine") is not None
    purepython = os.environ.get("ZIXIR_PUREPYTHON", "") not in ("", "0")
    expected = "cython" if built and not purepython else "python"
    assert expected == engine.IMPLEMENTATION
    assert engine.IMPLEMENTATION in ("cython", "python")


def test_run_dispatches_every_operation_by_name() -> None:
    assert engine.run("dot_product", [1, 2, 3], [4, 5, 6]) == 32.0
    assert engine.run("list_variance", [1.0, 3.0], ddof=1) == 2.0
    assert set(engine.OPS) == {
        "list_sum", "list_product", "list_mean", "list_min", "list_max", "list_variance",
        "list_std", "list_moments", "dot_product", "vec_add", "vec_sub", "vec_mul", "vec_div", "vec_scale",
        "map_add", "map_mul", "filter_gt", "sort_asc", "find_index", "count_value",
        "mat_mul", "mat_transpose", "cosine_similarity",
    }  # fmt: skip


def test_vector_results_come_back_in_the_kind_of_the_first_input() -> None:
    assert engine.vec_add([1, 2], (3.0, 4.0)) == [4.0, 6.0]
    assert engine.vec_add((1, 2), [3.0, 4.0]) == [4.0, 6.0]
    out = engine.vec_add(array("d", [1, 2]), [3.0, 4.0])
    assert isinstance(out, array) and out.typecode == "d" and out.tolist() == [4.0, 6.0]
    np_out = engine.map_mul(np.array([1.0, 2.0]), 3)
    assert isinstance(np_out, np.ndarray) and np_out.dtype == np.float64 and np_out.tolist() == [3.0, 6.0]
    assert isinstance(engine.filter_gt(memoryview(array("d", [1, 5])), 2), array)
    assert isinstance(engine.sort_asc(np.array([2.0, 1.0])), np.ndarray)


def test_integers_are_read_as_float64() -> None:
    assert engine.sort_asc([3, 1, 2]) == [1.0, 2.0, 3.0]
    assert engine.find_index([1, 2, 3], 2.0) == 1 and engine.count_value((1, 1.0, True), 1) == 3
    assert engine.list_sum([2**53, 1]) == float(2**53)


def test_other_iterables_are_read_as_lists() -> None:
    assert engine.list_sum(range(5)) == 10.0
    assert engine.vec_scale(deque([1, 2]), 2) == [2.0, 4.0]
    assert engine.list_max(x / 2 for x in range(5)) == 2.0


def test_strided_and_read_only_buffers_are_read_correctly() -> None:
    data = np.arange(10, dtype=np.float64)
    assert engine.list_sum(data[::2]) == 20.0
    frozen = data.copy()
    frozen.flags.writeable = False
    assert engine.dot_product(frozen, frozen) == float(np.dot(data, data))
    assert engine.list_sum(memoryview(bytes(array("d", [1.5, 2.5]))).cast("d")) == 4.0


def test_find_index_is_minus_one_when_absent_and_filter_gt_is_strict() -> None:
    assert engine.find_index([1.0, 2.0], 3.0) == -1
    assert engine.find_index([float("nan")], float("nan")) == -1
    assert engine.filter_gt([1.0, 2.0, 3.0], 2.0) == [3.0]
    assert engine.mat_mul([1, 2, 3, 4], [5, 6, 7, 8], 2, 2, 2) == [19.0, 22.0, 43.0, 50.0]
    assert engine.mat_transpose([1, 2, 3, 4, 5, 6], 2, 3) == [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
    assert engine.cosine_similarity([1, 0], [0, 1]) == 0.0


@pytest.mark.parametrize("impl", implementations(), ids=lambda m: m.__name__)
def test_concurrent_calls_from_threads_give_the_same_results(impl: object) -> None:
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(50_000), rng.standard_normal(50_000)
    expected = _engine_py.dot_product(a, b)  # the twin is the oracle: both agree bit for bit
    results: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            value = impl.dot_product(a, b)  # type: ignore[attr-defined]
            with lock:
                results.append(value)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [expected] * 20
