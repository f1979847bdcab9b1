"""Every Python example in README.md and docs/ runs as written."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from zixir.cache import LOOKUP_IMPLEMENTATION

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_on_the_page_run_in_order(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The blocks run as one real module, as a reader's script would.
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_').lower()}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for number, block in enumerate(BLOCK.findall(page.read_text()), start=1):
        code = compile(block, f"{page.name} block {number}", "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102 - the docs' own examples


def test_the_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from zixir import demo

    demo.main()
    out = capsys.readouterr().out
    assert "list_sum([1e16, 1.0, -1e16])  = 1.0" in out
    assert "read back equal: True" in out
    assert "users over 30 by index: ['ada', 'grace']" in out
    assert f"read path: {LOOKUP_IMPLEMENTATION}" in out
    for reason in ("timeout", "memory", "crashed"):
        assert f"reason={reason}," in out
