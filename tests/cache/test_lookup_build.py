"""The cache's read path runs compiled or from its source, as asked, and behaves the same."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from zixir import _compiled
from zixir.cache import LOOKUP_IMPLEMENTATION, Cache, lookup


def test_the_live_read_path_is_the_one_the_environment_asks_for() -> None:
    assert _compiled.implementation(lookup) == LOOKUP_IMPLEMENTATION
    if _compiled.PUREPYTHON:
        assert LOOKUP_IMPLEMENTATION == "python" and lookup.__file__ is not None
        assert lookup.__file__.endswith("lookup.py")


def test_a_compiled_lookup_keeps_its_state_in_c_fields() -> None:
    # lookup.pxd was applied: attributes are struct fields, not entries of a __dict__.
    field = vars(lookup.Store).get("hits")
    expected = "getset_descriptor" if LOOKUP_IMPLEMENTATION == "cython" else "NoneType"
    assert type(field).__name__ == expected


def test_zixir_purepython_loads_the_source_even_beside_a_build(tmp_path: Path) -> None:
    code = (
        "import sys, zixir.cache as c; from zixir.cache import lookup; "
        "cache = c.Cache(sys.argv[1]); cache.put('k', [1]); assert cache.get('k') == [1]; "
        "print(c.LOOKUP_IMPLEMENTATION, lookup.__file__.rpartition('/')[2])"
    )
    env = {**os.environ, "ZIXIR_PUREPYTHON": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.split() == ["python", "lookup.py"]


def test_a_missing_module_is_a_clear_error_under_purepython(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compiled, "PUREPYTHON", True)
    with pytest.raises(
        ModuleNotFoundError,
        match=r"^no module named 'zixir.cache.nothing_here' to load from source \(ZIXIR_PUREPYTHON\)$",
    ):
        _compiled.prefer_source("zixir.cache.nothing_here")


def test_a_subclass_overriding_get_is_used_by_in(tmp_path: Path) -> None:
    class Defaulting(Cache):  # the compiled `in` calls get through the override
        def get(self, key: Any, default: Any = None) -> Any:
            return super().get(key, default if key != "always" else 1)

    with Defaulting(tmp_path) as cache:
        assert "always" in cache and "never" not in cache
