"""numpy arrays, numpy scalars and array.array outputs round-trip through checkpoints: a
resumed run loads them from the store with their type, dtype, shape and values."""

from __future__ import annotations

import array
from collections.abc import Callable

import numpy as np

from zixir.workflow import Workflow


def test_array_outputs_round_trip_through_checkpoints_on_resume(make: Callable[..., Workflow]) -> None:
    wf = make("arrays")
    calls: list[str] = []
    fail = [True]

    @wf.step()
    def matrix() -> np.ndarray:
        calls.append("matrix")
        return np.arange(12, dtype=np.float32).reshape(3, 4) / 7

    @wf.step()
    def counts() -> np.ndarray:
        calls.append("counts")
        return np.array([[1, -2], [3, 2**40]], dtype=np.int64).T  # not C-contiguous

    @wf.step()
    def scalar() -> np.float64:
        calls.append("scalar")
        return np.float64(2.5)

    @wf.step()
    def typed() -> array.array[float]:
        calls.append("typed")
        return array.array("d", [0.5, -1.25, 1e300])

    @wf.step()
    def combine(matrix: np.ndarray, counts: np.ndarray, scalar: np.float64, typed: array.array[float]) -> float:
        calls.append("combine")
        if fail[0]:
            raise RuntimeError("fails the first run, after its inputs were committed")
        return float(matrix.sum() + counts.sum() + scalar + typed[0])

    first = wf.run("r1")
    assert first.status == "failed"
    fail[0] = False
    resumed = wf.run("r1")
    assert resumed.status == "succeeded"
    assert sorted(calls) == sorted(["matrix", "counts", "scalar", "typed", "combine", "combine"])
    outputs = wf.status("r1").outputs  # read back from the store alone
    m = outputs["matrix"]
    assert type(m) is np.ndarray and m.dtype == np.float32 and m.shape == (3, 4)
    np.testing.assert_array_equal(m, np.arange(12, dtype=np.float32).reshape(3, 4) / 7)
    c = outputs["counts"]
    assert c.dtype == np.int64 and c.shape == (2, 2) and c.tolist() == [[1, 3], [-2, 2**40]]
    assert type(outputs["scalar"]) is np.float64 and outputs["scalar"] == 2.5
    t = outputs["typed"]
    assert type(t) is array.array and t.typecode == "d" and t.tolist() == [0.5, -1.25, 1e300]
    expected = float(m.sum() + c.sum() + 2.5 + 0.5)
    assert resumed.outputs["combine"] == expected
