"""Sandbox tests: every test must leave no process behind.

The test process becomes a child subreaper while a sandbox test runs, so a process that
escapes its parent is re-parented here (not to init) and is still found.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator

import psutil
import pytest

PR_SET_CHILD_SUBREAPER = 36
EXIT_WAIT = 10.0  # seconds a process may take to go away after its sandbox is done


def _subreaper(on: bool) -> None:
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


@pytest.fixture(autouse=True)
def no_orphans() -> Iterator[None]:
    """Fails the test if a process it started is still running (or unreaped) after it."""
    me = psutil.Process()
    _subreaper(True)
    before = {p.pid for p in me.children(recursive=True)}
    try:
        yield
        leftovers = [p for p in me.children(recursive=True) if p.pid not in before]
        _, alive = psutil.wait_procs(leftovers, timeout=EXIT_WAIT)
        assert not alive, f"processes left running: {alive}"
    finally:
        _subreaper(False)
