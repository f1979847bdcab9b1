"""Fixtures for the workflow tests: a fresh store directory, closed after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from zixir.workflow import Workflow


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., Workflow]]:
    """Builds workflows on the test's store; each is closed after the test."""
    made: list[Workflow] = []

    def build(name: str = "wf", **options: Any) -> Workflow:
        options.setdefault("store", tmp_path / "store")
        wf = Workflow(name, **options)
        made.append(wf)
        return wf

    yield build
    for wf in made:
        wf.close()
