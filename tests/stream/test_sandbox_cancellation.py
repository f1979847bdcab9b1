"""Cancelling a pipeline kills the Sandbox workers running its items; the sandbox lives on."""

from __future__ import annotations

import asyncio
import os
import select
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.stream.stream_support import stream_threads, wait_for_no_stream_threads
from tests.stream.stream_targets import nap, quick_or_hang
from zixir import Sandbox, Stream

WAIT = 10.0


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A FIFO the sandboxed item writes its worker's pid to, opened for reading without blocking."""
    path = str(tmp_path / "pid.fifo")
    os.mkfifo(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    yield path, fd
    os.close(fd)


def running_pid(fd: int) -> int:
    """Waits (in select, with a deadline) for the worker to report its pid."""
    ready, _, _ = select.select([fd], [], [], WAIT)
    assert ready, "the sandboxed item did not start"
    return int(os.read(fd, 64).decode().strip())


def assert_killed_within_a_second(pid: int) -> None:
    try:
        psutil.Process(pid).wait(timeout=1.0)
    except psutil.NoSuchProcess:
        pass  # already gone and reaped
    except psutil.TimeoutExpired:
        pytest.fail(f"the worker {pid} still runs 1 s after the pipeline was cancelled")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_breaking_out_of_a_pipeline_kills_the_worker_running_its_item(fifo: tuple[str, int]) -> None:
    path, fd = fifo
    with Sandbox(workers=2) as sandbox:
        stream = Stream([None, path]).parallel_map(quick_or_hang, workers=2, executor=sandbox)
        for result in stream:
            assert result == "quick"
            pid = running_pid(fd)  # the second item runs now, in its worker
            break
        assert_killed_within_a_second(pid)
        assert wait_for_no_stream_threads(), stream_threads()
        assert sandbox.run(nap, 0.0).unwrap() == 0.0  # a fresh worker took its place
        assert pid not in {w.pid for w in sandbox.stats().workers}
        stats = stream.stats()
        assert stats is not None and stats.outcome == "cancelled"


def test_cancelling_the_consuming_task_kills_the_worker_running_its_item(fifo: tuple[str, int]) -> None:
    path, fd = fifo

    async def main(sandbox: Sandbox) -> int:
        got: list[str] = []

        async def consume() -> None:
            async for result in Stream([path]).parallel_map(quick_or_hang, workers=1, executor=sandbox):
                got.append(result)

        task = asyncio.ensure_future(consume())
        loop = asyncio.get_running_loop()
        pid = await loop.run_in_executor(None, running_pid, fd)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert got == []
        return pid

    with Sandbox(workers=1) as sandbox:
        pid = asyncio.run(main(sandbox))
        assert_killed_within_a_second(pid)
        assert wait_for_no_stream_threads(), stream_threads()
        assert sandbox.run(nap, 0.0).unwrap() == 0.0


def test_a_sandbox_future_cancelled_while_running_kills_its_worker(fifo: tuple[str, int]) -> None:
    path, fd = fifo
    with Sandbox(workers=1) as sandbox:
        future = sandbox.submit(quick_or_hang, path)
        pid = running_pid(fd)
        assert future.running() and future.cancel()
        assert future.cancelled()
        assert_killed_within_a_second(pid)
        with pytest.raises(Exception, match="cancelled"):
            future.result(timeout=WAIT)
        assert not future.cancel() or future.cancelled()
        assert sandbox.run(nap, 0.0).unwrap() == 0.0
        assert sandbox.submit(nap, 0.0).result(timeout=WAIT).value == 0.0
