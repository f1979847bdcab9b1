"""Every Python example in README.md and docs/ runs as written."""

from __future__ import annotations

import contextlib
import io
import re
import sys
import tokenize
import types
from pathlib import Path

import pytest

from zixir.cache import LOOKUP_IMPLEMENTATION

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


class LineRecorder(io.StringIO):
    """A stdout that keeps what each line of one compiled block printed."""

    def __init__(self, filename: str) -> None:
        super().__init__()
        self.filename = filename
        self.printed: dict[int, str] = {}

    def write(self, text: str) -> int:
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename != self.filename:
            frame = frame.f_back  # type: ignore[assignment]
        if frame is not None:
            self.printed[frame.f_lineno] = self.printed.get(frame.f_lineno, "") + text
        return super().write(text)


def shown_output(block: str) -> dict[int, str]:
    """The output a block shows: line number -> the comment after a line that calls print."""
    shown: dict[int, str] = {}
    printing: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(block).readline):
        if token.type == tokenize.NAME and token.string == "print":
            printing.add(token.start[0])
        elif token.type == tokenize.COMMENT and token.start[0] in printing:
            shown[token.start[0]] = token.string.lstrip("#").strip()
    return shown


def matches(printed: str, shown: str) -> bool:
    """Whether `printed` is what the docs show; "..." in the docs stands for any text."""
    pattern = ".*".join(re.escape(part.strip()) for part in shown.split("..."))
    return re.fullmatch(pattern, printed.strip(), re.DOTALL) is not None


def test_shown_output_is_read_from_print_lines_and_dots_match_anything() -> None:
    block = 'x = 1  # not output\nprint(x)  # 1\nprint(f"a {x} b")  # a ... b\n'
    assert shown_output(block) == {2: "1", 3: "a ... b"}
    assert matches("a 42 b", "a ... b") and not matches("a 42 c", "a ... b")
    assert matches("line one\nline two", "line ... two") and not matches("1.0", "1")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_on_the_page_run_in_order_and_print_what_they_show(
    page: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The blocks run as one real module, as a reader's script would.
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_').lower()}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    text = page.read_text()
    with contextlib.ExitStack() as stack:
        if 'executor="ray"' in text:  # Ray's workers cannot import this module: its functions go by value
            from ray import cloudpickle

            cloudpickle.register_pickle_by_value(module)
            stack.callback(cloudpickle.unregister_pickle_by_value, module)
        for number, block in enumerate(BLOCK.findall(text), start=1):
            name = f"{page.name} block {number}"
            stdout = LineRecorder(name)
            with contextlib.redirect_stdout(stdout):
                exec(compile(block, name, "exec", dont_inherit=True), module.__dict__)
            printed = stdout.printed
            for line, shown in shown_output(block).items():
                assert line in printed, f"{name}, line {line}: nothing was printed"
                assert matches(printed[line], shown), (
                    f"{name}, line {line}: printed {printed[line]!r}, the page shows {shown!r}"
                )


def test_the_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from zixir.demo.tour import tour

    tour()
    out = capsys.readouterr().out
    assert "list_sum([1e16, 1.0, -1e16])  = 1.0" in out
    assert "read back equal: True" in out
    assert "users over 30 by index: ['ada', 'grace']" in out
    assert f"read path: {LOOKUP_IMPLEMENTATION}" in out
    for reason in ("timeout", "memory", "crashed"):
        assert f"reason={reason}," in out
