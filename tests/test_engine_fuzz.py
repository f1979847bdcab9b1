"""Fuzzing every engine operation with hostile input, in a child process.

Generators that mutate the other argument, scalars, elements and dimensions whose own
methods mutate it, list subclasses, and a thread that resizes a list during calls. The child
must never die of a signal; every call gives the pure-Python twin's result, or a typed error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine_support import same
from zixir import _engine_py, engine
from zixir.errors import ZixirError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = 1500  # per run of the child: about 10 s on either engine
TYPED = (ZixirError, OverflowError)

VECTOR_ARGS = {
    "list_sum": 1, "list_product": 1, "list_mean": 1, "list_min": 1, "list_max": 1,
    "list_variance": 1, "list_std": 1, "list_moments": 1, "sort_asc": 1,
    "dot_product": 2, "vec_add": 2, "vec_sub": 2, "vec_mul": 2, "vec_div": 2, "cosine_similarity": 2,
    "vec_scale": 1, "map_add": 1, "map_mul": 1, "filter_gt": 1, "find_index": 1, "count_value": 1,
    "mat_mul": 2, "mat_transpose": 1,
}  # fmt: skip
SCALAR_OPS = {"vec_scale", "map_add", "map_mul", "filter_gt", "find_index", "count_value"}
assert set(VECTOR_ARGS) == set(engine.OPS)

MUTATIONS: dict[str, Callable[[list[Any]], None]] = {
    "clear": lambda xs: xs.clear(),
    "grow": lambda xs: xs.extend([1.0] * 300),
    "shrink": lambda xs: xs.__delitem__(slice(len(xs) // 2, None)),
    "poison": lambda xs: xs.__setitem__(slice(0, 1), ["x"]) if xs else None,
    "replace": lambda xs: xs.__setitem__(slice(None), [2.5] * len(xs)),
    "none": lambda xs: None,
}


class Box:
    """The arguments of one call, so hostile objects can reach the other arguments."""

    def __init__(self) -> None:
        self.lists: list[list[Any]] = []

    def hit(self, mutation: str) -> None:
        for xs in self.lists:
            MUTATIONS[mutation](xs)


def hostile_float(box: Box, mutation: str, value: float) -> float:
    class Sneaky(float):
        def __float__(self) -> float:
            box.hit(mutation)
            return 7.0

    return Sneaky(value)


def hostile_int(box: Box, mutation: str, value: int) -> int:
    class Sneaky(int):
        def __float__(self) -> float:
            box.hit(mutation)
            return 7.0

        def __index__(self) -> int:
            box.hit(mutation)
            return 3

        def __mul__(self, other: object) -> int:
            box.hit(mutation)
            return 1

        __rmul__ = __mul__

        def __lt__(self, other: object) -> bool:
            box.hit(mutation)
            return False

    return Sneaky(value)


class LyingList(list):  # type: ignore[type-arg]
    def __len__(self) -> int:
        return 10**7


values = st.lists(
    st.one_of(st.floats(), st.integers(-(2**70), 2**70), st.sampled_from([0.0, 1e308, 5e-324, -1.0])), max_size=300
)
element = st.sampled_from(["plain", "float_subclass", "int_subclass", "not_a_number", "huge_int"])
container = st.sampled_from(["list", "tuple", "generator", "lying_list", "array", "numpy"])
mutation = st.sampled_from(sorted(MUTATIONS))


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(sorted(VECTOR_ARGS)))
    n = draw(st.integers(0, 300))
    vectors = []
    for _ in range(VECTOR_ARGS[op]):
        xs = draw(values)
        if draw(st.booleans()):  # mostly equal lengths, so the kernels run
            xs = (xs * (n // max(len(xs), 1) + 1))[:n] if xs else [1.0] * n
        vectors.append(
            {"values": xs, "container": draw(container), "element": draw(element), "mutation": draw(mutation)}
        )
    return {
        "op": op,
        "vectors": vectors,
        "scalar": draw(st.sampled_from(["plain", "float_subclass", "int_subclass"])),
        "scalar_value": draw(st.one_of(st.floats(), st.integers(-(2**70), 2**70))),
        "dims": draw(st.sampled_from(["exact", "hostile", "wrong"])),
        "mutation": draw(mutation),
    }


def build(recipe: dict[str, Any]) -> list[Any]:
    """Fresh arguments for one call (hostile objects mutate this call's own lists only)."""
    box = Box()
    args: list[Any] = []
    for spec in recipe["vectors"]:
        items: list[Any] = list(spec["values"])
        if spec["element"] == "float_subclass" and items:
            items[0] = hostile_float(box, spec["mutation"], 1.5)
        elif spec["element"] == "int_subclass" and items:
            items[-1] = hostile_int(box, spec["mutation"], 2)
        elif spec["element"] == "not_a_number" and items:
            items[len(items) // 2] = "x"
        elif spec["element"] == "huge_int" and items:
            items[len(items) // 3] = 10**400
        kind = spec["container"]
        if kind in ("list", "lying_list"):
            xs = items if kind == "list" else LyingList(items)
            box.lists.append(xs)
            args.append(xs)
        elif kind == "tuple":
            args.append(tuple(items))
        elif kind == "generator":
            args.append(_generator(box, spec["mutation"], items))
        else:
            floats = [float(v) if isinstance(v, float) else 1.0 for v in items]
            args.append(array("d", floats) if kind == "array" else np.array(floats))
    op = recipe["op"]
    if op in SCALAR_OPS:
        value = recipe["scalar_value"]
        if recipe["scalar"] == "float_subclass":
            value = hostile_float(box, recipe["mutation"], 1.5)
        elif recipe["scalar"] == "int_subclass":
            value = hostile_int(box, recipe["mutation"], 2)
        args.append(value)
    if op in ("mat_mul", "mat_transpose"):
        args.extend(_dims(box, recipe, [len(a) if hasattr(a, "__len__") else 0 for a in args]))
    return args


def _generator(box: Box, mutation: str, items: list[Any]) -> Iterator[Any]:
    box.hit(mutation)
    yield from items


def _dims(box: Box, recipe: dict[str, Any], sizes: list[int]) -> list[Any]:
    count = 3 if recipe["op"] == "mat_mul" else 2
    if recipe["dims"] == "exact":
        rows = 1 if sizes and sizes[0] else 0
        dims = [rows, sizes[0] if rows else 0, 1][:count]
    elif recipe["dims"] == "hostile":
        dims = [hostile_int(box, recipe["mutation"], 3) for _ in range(count)]
    else:
        dims = [2, 3, 4][:count]
    return dims


def outcome(fn: Callable[..., Any], args: list[Any]) -> tuple[str, Any]:
    try:
        return "result", fn(*args)
    except TYPED as exc:
        return "error", (type(exc), str(exc))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(recipe=calls())
def fuzz_one(recipe: dict[str, Any]) -> None:
    op = recipe["op"]
    live = outcome(getattr(engine, op), build(recipe))
    twin = outcome(getattr(_engine_py, op), build(recipe))
    if live[0] == "result" and twin[0] == "result":
        result, expected = live[1], twin[1]
        if op not in ("find_index", "count_value"):
            expected = float(expected) if isinstance(expected, float) else expected
        assert same(result, expected), (recipe, result, expected)
    else:
        assert live == twin, (recipe, live, twin)


def fuzz_threads(calls_per_op: int = 30) -> None:
    """Every op on a list that another thread keeps resizing: a result or a typed error."""
    shared = [float(i) for i in range(20_000)]
    stop = threading.Event()

    def meddle() -> None:
        size = 0
        while not stop.is_set():
            size = 30_000 if size == 20_000 else 20_000
            shared.clear()
            shared.extend([1.5] * size)
            del shared[20_000:]

    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=meddle)
    thread.start()
    try:
        for op in sorted(VECTOR_ARGS):
            for _ in range(calls_per_op):
                args: list[Any] = [shared]
                if VECTOR_ARGS[op] == 2:
                    args.append(1.0 for _ in range(20_000))
                if op in SCALAR_OPS:
                    args.append(1.5)
                if op == "mat_mul":
                    args[1] = [1.0]
                    args += [20_000, 1, 1]
                if op == "mat_transpose":
                    args += [1, 20_000]
                outcome(getattr(engine, op), args)
    finally:
        stop.set()
        thread.join()


def main() -> None:
    """The child: fuzz, then prove it finished by printing a line."""
    fuzz_one()
    fuzz_threads()
    print(f"fuzzed {engine.IMPLEMENTATION}")


def test_hostile_inputs_never_kill_the_process_and_match_the_twin() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from tests.test_engine_fuzz import main; main()"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode >= 0, f"the child died of signal {-result.returncode}: {result.stderr[-4000:]}"
    assert result.returncode == 0, result.stderr[-6000:]
    assert result.stdout.splitlines()[-1] == f"fuzzed {engine.IMPLEMENTATION}"
