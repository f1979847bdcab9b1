"""Shared helpers for the engine tests: the implementations, input kinds, comparisons."""

from __future__ import annotations

import importlib
import math
from array import array
from types import ModuleType
from typing import Any

import numpy as np

from zixir import _engine_py


def implementations() -> list[ModuleType]:
    """The pure-Python twin, plus the compiled engine when it is built."""
    impls = [_engine_py]
    try:
        impls.append(importlib.import_module("zixir._engine"))
    except ModuleNotFoundError:
        pass
    return impls


def as_kind(values: list[float], kind: str) -> Any:
    """The same values as a list, tuple, array('d'), numpy array or memoryview."""
    if kind == "list":
        return list(values)
    if kind == "tuple":
        return tuple(values)
    floats = [float(v) for v in values]
    if kind == "array":
        return array("d", floats)
    if kind == "numpy":
        return np.array(floats, dtype=np.float64)
    if kind == "memoryview":
        return memoryview(array("d", floats))
    raise AssertionError(kind)


KINDS = ("list", "tuple", "array", "numpy", "memoryview")


def same_float(x: float, y: float) -> bool:
    """Bit-for-bit equality of two floats, nan equal to nan."""
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y and math.copysign(1.0, x) == math.copysign(1.0, y)


def same(x: Any, y: Any) -> bool:
    """Equality of two engine results: same kind, same floats bit for bit."""
    if isinstance(x, (float, int)) and isinstance(y, (float, int)):
        return type(x) is type(y) and same_float(float(x), float(y))
    if type(x) is not type(y):
        return False
    xs, ys = list(x), list(y)
    return len(xs) == len(ys) and all(same_float(a, b) for a, b in zip(xs, ys))
