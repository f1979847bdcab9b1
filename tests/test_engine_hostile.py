"""Hostile input never crashes the process: code run by one argument cannot pull a list from
under the engine, and values are read without running an element's own methods.

Each case that once killed the interpreter (SIGSEGV) runs in a child process, so a crash
fails the test instead of ending the run.
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.engine_support import implementations, same
from zixir import engine
from zixir.errors import LengthMismatchError, NotNumericError, ShapeError

ROOT = Path(__file__).resolve().parents[1]
IMPLS = implementations()


def run_child(code: str) -> Any:
    """Runs `code` in a fresh interpreter with the live engine; returns what it printed last, as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode >= 0, f"the child died of signal {-result.returncode}: {result.stderr[-3000:]}"
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_a_generator_that_clears_the_other_list_gets_a_length_error_not_a_crash() -> None:
    out = run_child(
        """
        import json
        from zixir import engine
        a = [float(i) for i in range(200_000)]
        def g():
            a.clear()
            yield from (1.0 for _ in range(200_000))
        try:
            engine.dot_product(a, g())
        except Exception as exc:
            print(json.dumps([type(exc).__name__, str(exc)]))
        """
    )
    assert out == [
        "LengthMismatchError",
        "dot_product: a has 0 elements but b has 200000; pass vectors of equal length",
    ]


def test_a_scalar_whose_float_method_clears_the_list_cannot_touch_it() -> None:
    out = run_child(
        """
        import json
        from zixir import engine
        xs = [float(i) for i in range(100_000)]
        class Sneaky(float):
            def __float__(self):
                xs.clear()
                return 0.0
        result = engine.map_add(xs, Sneaky(1.0))
        print(json.dumps([len(xs), result[:3], len(result)]))
        """
    )
    assert out == [100_000, [1.0, 2.0, 3.0], 100_000]  # __float__ is never called


def test_an_element_whose_float_method_mutates_its_list_is_read_by_value() -> None:
    out = run_child(
        """
        import json
        from zixir import engine
        xs = []
        class Sneaky(int):
            def __float__(self):
                xs.clear()
                return 99.0
            def __index__(self):
                xs.clear()
                return 99
        xs.extend([Sneaky(2)] + [1.0] * 50_000)
        print(json.dumps([engine.list_sum(xs), engine.list_variance(xs) > 0, len(xs)]))
        """
    )
    assert out == [50_002.0, True, 50_001]


def test_a_list_subclass_that_lies_about_its_length_is_read_through_iteration() -> None:
    out = run_child(
        """
        import json
        from zixir import engine
        class Liar(list):
            def __len__(self):
                return 10_000_000
        print(json.dumps([engine.list_sum(Liar([1.0, 2.0])), engine.sort_asc(Liar([3, 1]))]))
        """
    )
    assert out == [3.0, [1.0, 3.0]]


def test_matrix_dimensions_that_lie_about_their_product_cannot_overrun_the_result() -> None:
    out = run_child(
        """
        import json
        from zixir import engine
        class Liar(int):
            def __mul__(self, other):
                return 4
            __rmul__ = __mul__
        outcomes = []
        for call in (
            lambda: engine.mat_mul([1.0] * 4, [1.0] * 4, Liar(3000), Liar(3000), Liar(3000)),
            lambda: engine.mat_transpose([1.0] * 4, Liar(3000), Liar(3000)),
        ):
            try:
                call()
                outcomes.append("no error")
            except Exception as exc:
                outcomes.append([type(exc).__name__, str(exc)])
        outcomes.append(engine.mat_transpose([1, 2, 3, 4, 5, 6], Liar(2), Liar(3)))
        print(json.dumps(outcomes))
        """
    )
    assert out == [
        ["ShapeError", "mat_mul: a has 4 elements but a_rows * a_cols = 3000 * 3000 = 9000000"],
        ["ShapeError", "mat_transpose: m has 4 elements but rows * cols = 3000 * 3000 = 9000000"],
        [1.0, 4.0, 2.0, 5.0, 3.0, 6.0],
    ]


def test_a_garbage_collector_callback_that_mutates_an_input_cannot_crash_a_call() -> None:
    out = run_child(
        """
        import gc, json
        from zixir import engine
        a = [float(i) for i in range(20_000)]
        b = [1.0] * 20_000
        def meddle(phase, info):
            if phase == "start":
                a.clear()
                a.extend([2.0] * 10)
        gc.callbacks.append(meddle)
        gc.set_threshold(1)
        outcomes = []
        for op in ("vec_add", "vec_mul", "dot_product", "cosine_similarity", "mat_mul"):
            a[:] = [float(i) for i in range(20_000)]
            try:
                args = (a, b, 1, 20_000, 1) if op == "mat_mul" else (a, b)
                engine.run(op, *args)
                outcomes.append("ok")
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        gc.callbacks.remove(meddle)
        print(json.dumps(outcomes))
        """
    )
    assert set(out) <= {"ok", "LengthMismatchError", "ShapeError"}


def test_another_thread_resizing_a_list_during_calls_never_crashes() -> None:
    out = run_child(
        """
        import json, sys, threading
        from zixir import engine
        from zixir.errors import ZixirError
        sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
        CALLS = 1000
        shared = [float(i) for i in range(50_000)]
        stop = threading.Event()
        def meddle():
            size = 0
            while not stop.is_set():
                size = 80_000 if size == 50_000 else 50_000
                shared.clear()  # frees the item array: a pointer kept into it would dangle
                shared.extend([1.0] * size)
                del shared[50_000:]
        thread = threading.Thread(target=meddle)
        thread.start()
        outcomes = {"ok": 0, "error": 0}
        try:
            for i in range(CALLS):
                try:
                    engine.vec_add(shared, (1.0 for _ in range(50_000)))
                    engine.dot_product(shared, (1.0 for _ in range(50_000)))
                    engine.list_variance(shared)
                    outcomes["ok"] += 1
                except ZixirError:
                    outcomes["error"] += 1
        finally:
            stop.set()
            thread.join()
        print(json.dumps(outcomes))
        """
    )
    assert out["ok"] + out["error"] == 1000


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
def test_a_list_resized_between_chunks_is_a_length_error(impl: Any) -> None:
    # The same situation the threads above create, made deterministic with a callback.
    a = [float(i) for i in range(1000)]

    def meddle(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and len(a) == 1000:
            del a[500:]

    threshold = gc.get_threshold()
    gc.callbacks.append(meddle)
    gc.set_threshold(1)
    try:
        with pytest.raises(LengthMismatchError) as info:
            impl.vec_mul(a, [2.0] * 1000)
        # Whether the collector ran before the call fixed the sizes, or between two chunks:
        assert str(info.value) in (
            "vec_mul: a has 500 elements but b has 1000; pass vectors of equal length",
            "vec_mul: a had 1000 elements when reading began and has 500 now; "
            "it was changed during the call (by another thread or a callback): pass a copy",
        )
    finally:
        gc.callbacks.remove(meddle)
        gc.set_threshold(*threshold)


@pytest.mark.parametrize("impl", IMPLS, ids=lambda m: m.__name__)
def test_element_and_scalar_subclasses_are_read_by_their_value_alike_in_both_engines(impl: Any) -> None:
    class Loud(float):
        def __float__(self) -> float:
            raise AssertionError("__float__ must not run")

    class LoudInt(int):
        def __float__(self) -> float:
            raise AssertionError("__float__ must not run")

        def __index__(self) -> int:
            raise AssertionError("__index__ must not run")

    xs = [Loud(1.5), LoudInt(2), True]
    assert impl.list_sum(xs) == 4.5
    assert impl.map_mul(xs, Loud(2.0)) == [3.0, 4.0, 2.0]
    assert impl.find_index(xs, LoudInt(2)) == 1
    assert impl.mat_transpose(xs, LoudInt(1), LoudInt(3)) == [1.5, 2.0, 1.0]
    assert impl.list_variance([1.0, 3.0], ddof=LoudInt(1)) == 2.0


def test_numpy_arrays_without_float64_values_are_not_numeric_errors() -> None:
    for dtype in ("datetime64[D]", "timedelta64[s]"):
        values = np.array([1, 2], dtype=dtype)
        with pytest.raises(
            NotNumericError,
            match=rf"^list_sum: xs is an array of dtype {re.escape(dtype)}, which has no float64 values \(.*\); "
            r"convert it to numbers first, e\.g\. numpy's x\.astype\(float\)$",
        ):
            engine.list_sum(values)
        with pytest.raises(NotNumericError, match=r"^dot_product: b is an array of dtype"):
            engine.dot_product([1.0, 2.0], values)
    for values in (np.array([object(), 1.0]), np.array(["a", "b"]), np.array([True, False])):
        with pytest.raises(NotNumericError, match=r"^list_sum: xs is a buffer of format .*, expected float64"):
            engine.list_sum(values)


def test_matrix_dimensions_must_be_ints_even_when_they_compare_oddly() -> None:
    class Odd(int):
        def __lt__(self, other: object) -> bool:
            return False

    with pytest.raises(ShapeError, match=r"^mat_transpose: rows must be a non-negative int, got -1$"):
        engine.mat_transpose([], Odd(-1), 0)


@pytest.mark.parametrize("op", ["dot_product", "vec_add", "cosine_similarity"])
def test_both_engines_meet_the_same_bad_element_first(op: str) -> None:
    a = [1.0] * 300
    b = [1.0] * 300
    a[200], b[5] = "x", None
    outcomes = []
    for impl in IMPLS:
        with pytest.raises(NotNumericError) as info:
            getattr(impl, op)(a, b)
        outcomes.append(str(info.value))
    assert outcomes[0] == f"{op}: b[5] is NoneType None, expected int or float"
    assert len(set(outcomes)) == 1
    assert all(same(impl.dot_product([1, 2], [3, 4]), 11.0) for impl in IMPLS)
