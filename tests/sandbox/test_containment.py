"""Containment: whatever fn does, the host gets a result, the worker is replaced if it must
be, and no process is left behind (the conftest fixture checks that after every test).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import psutil
import pytest
import sandbox_targets as targets

from zixir.errors import RemoteError, SerializationError, WorkerCrashedError
from zixir.sandbox import Sandbox

GENEROUS = 30.0


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(timeout=GENEROUS, memory="64MB", max_output="1MB") as sandbox:
        yield sandbox


def test_a_segfault_is_crashed_with_its_signal_and_the_worker_is_replaced(sandbox: Sandbox) -> None:
    result = sandbox.run(targets.segfault)
    assert result.reason == "crashed"
    assert result.signal == signal.SIGSEGV
    assert result.exit_code is None
    assert isinstance(result.error, WorkerCrashedError)
    assert str(result.error) == "the worker was killed by signal 11 (SIGSEGV)"
    assert sandbox.run(targets.double, 1).pid != result.pid


def test_os_exit_is_crashed_with_its_exit_code(sandbox: Sandbox) -> None:
    result = sandbox.run(targets.hard_exit, 3)
    assert (result.reason, result.exit_code, result.signal) == ("crashed", 3, None)
    assert str(result.error) == "the worker exited with status 3"
    assert sandbox.run(targets.double, 1).pid != result.pid


def test_sys_exit_is_crashed_with_its_code(sandbox: Sandbox) -> None:
    result = sandbox.run(targets.soft_exit, 4)
    assert (result.reason, result.exit_code) == ("crashed", 4)
    assert str(result.error) == "fn called sys.exit(4)"
    assert result.error.exit_code == 4  # type: ignore[union-attr]


def test_a_worker_dying_while_its_child_holds_the_socket_is_still_seen(sandbox: Sandbox) -> None:
    result = sandbox.run(targets.fork_then_exit, 5)
    assert (result.reason, result.exit_code) == ("crashed", 5)


@pytest.mark.parametrize("leave", [targets.leave_child, targets.leave_session, targets.leave_daemon])
def test_child_processes_left_running_are_killed_and_the_worker_replaced(sandbox: Sandbox, leave: object) -> None:
    result = sandbox.run(leave)  # type: ignore[arg-type]
    assert result.ok
    assert sandbox.run(targets.double, 1).pid != result.pid


def test_an_exception_comes_back_as_itself_with_the_traceback_text(sandbox: Sandbox) -> None:
    result = sandbox.run(targets.raise_value_error, "bad input")
    assert result.reason == "exception"
    assert isinstance(result.error, ValueError)
    assert str(result.error) == "bad input"
    assert result.traceback is not None
    assert "in raise_value_error" in result.traceback
    assert result.traceback.endswith("ValueError: bad input\n")
    assert sandbox.run(targets.double, 1).pid == result.pid  # the worker is fine


def test_an_exception_that_cannot_be_pickled_comes_back_as_a_stand_in(sandbox: Sandbox) -> None:
    result = sandbox.run(targets.raise_unpicklable)
    assert result.reason == "exception"
    assert isinstance(result.error, RemoteError)
    assert result.error.type_name == "sandbox_targets.Unpicklable"
    assert str(result.error) == "sandbox_targets.Unpicklable: holds a lock"
    assert "raise Unpicklable()" in result.error.remote_traceback


def test_an_exception_that_pickles_but_cannot_be_rebuilt_comes_back_as_a_stand_in(sandbox: Sandbox) -> None:
    result = sandbox.run(targets.raise_needs_two)
    assert isinstance(result.error, RemoteError)
    assert str(result.error) == "sandbox_targets.NeedsTwo: 1-2"


def test_a_result_that_cannot_be_pickled_is_an_exception_with_the_serialization_error() -> None:
    with Sandbox(timeout=GENEROUS, allow_pickle=True) as sandbox:
        result = sandbox.run(targets.unpicklable_result)
    assert result.reason == "exception"
    assert isinstance(result.error, SerializationError)
    assert str(result.error).startswith("the call's result cannot be pickled to send it back: TypeError: cannot pickle")


def test_a_result_that_cannot_be_unpickled_here_is_an_exception() -> None:
    with Sandbox(timeout=GENEROUS, allow_pickle=True) as sandbox:
        result = sandbox.run(targets.unloadable_result)
    assert result.reason == "exception"
    assert isinstance(result.error, SerializationError)
    assert "refuses to be rebuilt" in str(result.error)


def test_an_unpicklable_argument_is_refused_before_anything_runs(sandbox: Sandbox) -> None:
    with pytest.raises(
        SerializationError,
        match=r"^cannot send the call to the sandbox: "
        r"TypeError: cannot pickle '_thread.lock'",
    ):
        sandbox.run(targets.identity, threading.Lock())
    assert sandbox.stats().calls == 0


def test_a_lambda_is_refused_with_how_to_fix_it(sandbox: Sandbox) -> None:
    with pytest.raises(
        SerializationError,
        match=r"pass a module-level function \(not a "
        r"lambda, a nested function",
    ):
        sandbox.run(lambda: 1)


def test_the_host_and_the_pool_survive_a_series_of_disasters() -> None:
    with Sandbox(timeout=0.5, memory="64MB", max_output="1MB", workers=2) as sandbox:
        reasons = [r.reason for r in sandbox.map(targets.disaster, range(6))]
        assert reasons == ["timeout", "memory", "crashed", "crashed", "output", "exception"]
        assert [r.value for r in sandbox.map(targets.double, range(4))] == [0, 2, 4, 6]
        stats = sandbox.stats()
    assert stats.reasons["crashed"] == 2
    assert stats.replaced >= 5


def test_a_fork_server_killed_from_outside_is_replaced() -> None:
    with Sandbox(timeout=GENEROUS) as sandbox:
        worker = sandbox.run(targets.double, 1).pid
        server = sandbox.stats().fork_server_pid
        assert server is not None and worker is not None
        os.kill(server, signal.SIGKILL)
        assert psutil.wait_procs([psutil.Process(server)], timeout=GENEROUS)[1] == []
        results = [sandbox.run(targets.double, 2) for _ in range(2)]
        assert results[-1].value == 4  # the first may have met the dying worker: "crashed"
        assert {r.reason for r in results} <= {None, "crashed"}
        assert sandbox.stats().fork_server_pid not in (None, server)


def test_killing_a_worker_also_kills_the_nested_sandbox_it_was_running() -> None:
    with Sandbox(timeout=1.5) as sandbox:
        result = sandbox.run(targets.nest_spin)
    assert result.reason == "timeout"  # the conftest fixture checks nothing nested survived
