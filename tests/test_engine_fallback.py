"""A checkout whose extensions are not built runs the pure-Python code and says so once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zixir import _compiled

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter where the compiled modules look unbuilt: the engine's
# extension cannot be found, and the cache's lookup and the span core load from their .py source.
UNBUILT = textwrap.dedent(
    """
    import importlib.util, json, os, sys, warnings

    class Unbuilt:
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name == "zixir._engine":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            if name in ("zixir.cache.lookup", "zixir.tracing._context", "zixir.tracing.spans", "zixir.tracing._actors"):
                source = os.path.join(path[0], name.rpartition(".")[2] + ".py")
                return importlib.util.spec_from_file_location(name, source)
            return None

    sys.meta_path.insert(0, Unbuilt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import zixir
        from zixir import engine
        total = engine.list_sum([1e16, 1.0, -1e16])
        with zixir.tracing.span("unbuilt") as span:
            pass
    print(json.dumps({
        "engine": engine.IMPLEMENTATION,
        "lookup": zixir.cache.LOOKUP_IMPLEMENTATION,
        "spans": zixir.tracing.SPANS_IMPLEMENTATION,
        "span": span.status,
        "sum": total,
        "warnings": [[w.category.__name__, str(w.message)] for w in caught],
    }))
    """
)


def run_unbuilt(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k != "ZIXIR_PUREPYTHON"}
    result = subprocess.run(
        [sys.executable, "-c", UNBUILT], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    out: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return out


def test_an_unbuilt_checkout_imports_and_runs_the_pure_python_code_with_one_warning() -> None:
    out = run_unbuilt()
    assert out["engine"] == "python" and out["lookup"] == "python" and out["spans"] == "python"
    assert out["sum"] == 1.0 and out["span"] == "ok"
    (warning,) = out["warnings"]  # type: ignore[misc]
    category, message = warning
    assert category == "RuntimeWarning"
    assert re.match(
        r"^Zixir's compiled extensions are not built "
        r"\(zixir\.(_engine|cache\.lookup|tracing\.spans) is missing\), "
        r"so it runs its pure-Python code \(slower, same results\): ",
        message,
    )
    assert "`make`" in message and "`pip install -e .`" in message
    assert "ZIXIR_PUREPYTHON=1" in message


def test_choosing_the_pure_python_code_on_purpose_gives_no_warning() -> None:
    out = run_unbuilt(ZIXIR_PUREPYTHON="1")
    assert out == {"engine": "python", "lookup": "python", "spans": "python", "span": "ok", "sum": 1.0, "warnings": []}


def test_a_build_that_is_present_but_broken_is_an_error_not_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_compiled, "PUREPYTHON", False)
    package = tmp_path / "brokenpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "ext.py").write_text("raise ImportError('undefined symbol: kernel')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ImportError, match=r"^undefined symbol: kernel$"):
            _compiled.import_compiled("brokenpkg.ext")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("brokenpkg", None)


def test_the_unbuilt_warning_is_given_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compiled, "PUREPYTHON", False)
    monkeypatch.setattr(_compiled, "_warned", False)
    with pytest.warns(RuntimeWarning, match=r"\(zixir\.nothing is missing\)") as caught:
        assert _compiled.import_compiled("zixir.nothing") is None
        assert _compiled.import_compiled("zixir.nothing_else") is None
    assert len(caught) == 1
