"""Reading /proc: process trees, CPU time and resident memory, checked against psutil."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from zixir.sandbox import _process, _procfs

WAIT = 30.0
# A child that starts a grandchild and waits for stdin to close; the grandchild, once
# running, prints its pid (on the stdout it shares with the child) and waits too.
TREE = (
    "import subprocess, sys\n"
    "code = 'import os, sys; print(os.getpid(), flush=True); sys.stdin.read()'\n"
    "g = subprocess.Popen([sys.executable, '-c', code], stdin=subprocess.PIPE)\n"
    "sys.stdin.read()\n"
)


@pytest.fixture
def tree() -> Iterator[tuple[int, int]]:
    """A child process and its own child: (child pid, grandchild pid)."""
    child = subprocess.Popen([sys.executable, "-c", TREE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    grandchild = int(child.stdout.readline())
    try:
        yield child.pid, grandchild
    finally:
        _process.kill_tree(child.pid)
        child.wait(WAIT)
        child.stdout.close()
        assert child.stdin is not None
        child.stdin.close()


def test_the_page_size_and_clock_ticks_are_the_systems() -> None:
    assert resource.getpagesize() == _procfs.PAGE_SIZE
    assert _procfs.CLOCK_TICKS == os.sysconf("SC_CLK_TCK") > 0


def test_children_and_descendants_follow_the_process_tree(tree: tuple[int, int]) -> None:
    child, grandchild = tree
    assert child in _procfs.children(os.getpid())
    assert grandchild not in _procfs.children(os.getpid())
    assert _procfs.children(child) == [grandchild]
    assert {child, grandchild} <= set(_procfs.descendants(os.getpid()))
    assert _procfs.descendants(child) == [grandchild]


def test_tree_usage_sums_the_tree_and_kill_tree_ends_it(tree: tuple[int, int]) -> None:
    child, grandchild = tree
    usage = _procfs.tree_usage(child)
    assert usage is not None
    cpu, rss = usage
    own = _procfs.rss(child)
    assert cpu >= 0 and own is not None and rss > own > 0  # the grandchild's memory too
    assert set(_process.kill_tree(child)) == {child, grandchild}
    gone, alive = psutil.wait_procs([psutil.Process(child)], timeout=WAIT)
    assert alive == [] and gone


def test_rss_matches_psutil_and_a_gone_process_reads_as_none() -> None:
    ours = _procfs.rss(os.getpid())
    assert ours is not None
    assert abs(ours - psutil.Process().memory_info().rss) < 16 << 20
    gone = max(psutil.pids()) + 100_000  # above every live pid
    assert _procfs.rss(gone) is None
    assert _procfs.tree_usage(gone) is None
    assert _procfs.children(gone) == [] and _procfs.descendants(gone) == []


def test_own_memory_reads_rss_and_data_only_when_tracking() -> None:
    assert _procfs.OwnMemory(track=False).usage() == (0, 0)
    rss, data = _procfs.OwnMemory(track=True).usage()
    assert abs(rss - psutil.Process().memory_info().rss) < 16 << 20
    assert data > 0


def test_own_memory_resets_the_peak_rss() -> None:
    own = _procfs.OwnMemory(track=True)
    if not own.peak_resettable:
        pytest.skip("this kernel does not let /proc/self/clear_refs reset the peak RSS")
    block = bytearray(128 << 20)  # touched: calloc'd pages are mapped on write, so write them
    block[::4096] = b"x" * len(block[::4096])
    high = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del block
    own.reset_peak()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < high - (64 << 10)  # KiB
