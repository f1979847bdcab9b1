"""The Sandbox API: run, submit, map, run_module, output capture, environment, recycling,
statistics, closing, circuit breakers and argument checks.
"""

from __future__ import annotations

import os
import select
import sys
from concurrent.futures import CancelledError
from pathlib import Path

import pytest
import sandbox_targets as targets

from zixir.errors import (
    ArgumentTypeError,
    CircuitOpenError,
    InvalidArgumentError,
    SandboxClosedError,
    SandboxError,
    SandboxStartError,
)
from zixir.resilience import CircuitBreaker
from zixir.sandbox import Sandbox, SandboxResult, _call, scrubbed_env

GENEROUS = 30.0


def test_run_returns_the_value_in_an_ok_result() -> None:
    with Sandbox() as sandbox:
        result = sandbox.run(targets.double, 21)
    assert isinstance(result, SandboxResult)
    assert (result.ok, result.value, result.reason, result.error) == (True, 42, None, None)
    assert result.unwrap() == 42
    assert result.pid is not None and result.pid != os.getpid()
    assert result.duration > 0


def test_keyword_arguments_reach_fn() -> None:
    with Sandbox() as sandbox:
        assert sandbox.run(targets.identity, x={"a": (1, 2)}).value == {"a": (1, 2)}


def test_calls_reuse_a_warm_worker() -> None:
    with Sandbox() as sandbox:
        pids = {sandbox.run(targets.double, i).pid for i in range(20)}
    assert len(pids) == 1


def test_run_module_imports_the_function_by_name_in_the_worker() -> None:
    with Sandbox() as sandbox:
        assert sandbox.run_module("sandbox_targets", "double", (21,)).value == 42
        assert sandbox.run_module("sandbox_targets", "identity", kwargs={"x": 5}).value == 5
        missing = sandbox.run_module("no_such_module_here", "f")
    assert missing.reason == "exception"
    assert isinstance(missing.error, ModuleNotFoundError)


def test_submit_gives_a_future_of_the_result() -> None:
    with Sandbox() as sandbox:
        future = sandbox.submit(targets.double, 5)
        assert future.result(timeout=GENEROUS).value == 10


def test_map_runs_on_every_worker_and_keeps_the_order() -> None:
    with Sandbox(workers=2) as sandbox:
        results = sandbox.map(targets.sleep, [0.2, 0.01, 0.1, 0.0])
        assert [r.value for r in results] == [0.2, 0.01, 0.1, 0.0]
        assert len({r.pid for r in results}) == 2
        assert len(sandbox.stats().workers) == 2


def test_stdout_and_stderr_are_captured_per_call_from_python_c_and_children() -> None:
    with Sandbox() as sandbox:
        talked = sandbox.run(targets.talk, "hi")
        assert (talked.stdout, talked.stderr) == ("hi\n", "err:hi\n")
        assert sandbox.run(targets.print_from_c).stdout == "printed by C\n"
        assert sandbox.run(targets.echo_child).stdout == "printed by a child\n"
        assert sandbox.run(targets.double, 1).stdout == ""


def test_workers_get_a_scrubbed_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_TEST_SECRET", "hunter2")
    monkeypatch.setenv("LC_TEST_KEPT", "yes")
    with Sandbox() as sandbox:
        env = sandbox.run(targets.environment).value
    assert "SANDBOX_TEST_SECRET" not in env
    assert env["LC_TEST_KEPT"] == "yes"
    assert env["PATH"] == os.environ["PATH"]
    assert env["ZIXIR_SANDBOX_DEPTH"] == "1"
    assert scrubbed_env({"AWS_SECRET_ACCESS_KEY": "x", "PYTHONPATH": "p", "HOME": "h"}) == {
        "PYTHONPATH": "p",
        "HOME": "h",
    }


def test_env_replaces_the_workers_environment() -> None:
    with Sandbox(env={"ONLY": "this"}) as sandbox:
        env = sandbox.run(targets.environment).value
    assert env == {"ONLY": "this", "ZIXIR_SANDBOX_DEPTH": "1", "ZIXIR_SANDBOX_MAX_DEPTH": "8"}


def test_workers_are_forked_clean_in_their_own_group_without_core_dumps() -> None:
    with Sandbox() as sandbox:
        worker = sandbox.run(targets.what_the_worker_is).unwrap()
        server = sandbox.stats().fork_server_pid
        assert server is not None and os.getsid(server) == server != os.getsid(0)
    assert worker["zixir"] == [] and not worker["numpy"]  # nothing but the stdlib and fn's module
    assert worker["threads"] == 1
    assert worker["pgid"] == worker["pid"]
    assert worker["core"] == (0, 0)
    assert worker["cwd"] == os.getcwd()
    assert worker["path"] == sys.path


def test_workers_are_replaced_after_max_tasks_per_worker() -> None:
    with Sandbox(max_tasks_per_worker=2) as sandbox:
        pids = [sandbox.run(targets.double, i).pid for i in range(5)]
        replaced = sandbox.stats().replaced
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert replaced == 2


def test_a_worker_whose_idle_memory_grew_past_the_high_water_mark_is_replaced() -> None:
    with Sandbox(max_worker_memory="20MB") as sandbox:
        first = sandbox.run(targets.hold, 5).value
        assert sandbox.run(targets.hold, 5).value == first
        grown = sandbox.run(targets.hold, 30).value
        assert grown == first
        assert sandbox.run(targets.double, 1).pid != first


def test_stats_report_the_workers_and_the_reasons() -> None:
    with Sandbox(workers=2, timeout=0.3) as sandbox:
        sandbox.run(targets.spin)
        sandbox.run(targets.double, 1)
        sandbox.run(targets.double, 2)
        stats = sandbox.stats()
        server = stats.fork_server_pid
    assert stats.calls == 3
    assert stats.reasons == {"ok": 2, "timeout": 1}
    assert stats.replaced == 1
    assert stats.depth == 0
    assert server is not None
    assert len(stats.workers) == 2
    assert sum(w.tasks for w in stats.workers) == 2
    ran = [w for w in stats.workers if w.tasks]
    assert ran[0].pid is not None and ran[0].rss is not None and ran[0].rss > 1 << 20
    assert not ran[0].busy and ran[0].age > 0


def test_a_closed_sandbox_refuses_calls_and_closing_twice_is_fine() -> None:
    sandbox = Sandbox()
    server = sandbox.stats().fork_server_pid
    sandbox.close()
    sandbox.close()
    assert sandbox.closed
    with pytest.raises(SandboxClosedError, match=r"^the sandbox is closed; create a new Sandbox$"):
        sandbox.run(targets.double, 1)
    with pytest.raises(SandboxClosedError):
        sandbox.submit(targets.double, 1)
    assert server is not None
    assert not os.path.exists(f"/proc/{server}/status") or _zombie(server)


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as file:
        return file.read().rpartition(")")[2].split()[0] == "Z"


def test_close_waits_for_running_calls_and_cancels_the_queued_ones() -> None:
    sandbox = Sandbox()
    running = sandbox.submit(targets.sleep, 0.3)
    queued = [sandbox.submit(targets.double, i) for i in range(50)]
    sandbox.close()
    assert running.result().value == 0.3
    assert any(f.cancelled() for f in queued)
    for future in queued:
        if not future.cancelled():
            assert future.result().ok
        else:
            with pytest.raises(CancelledError):
                future.result()


def test_close_without_waiting_kills_running_calls(tmp_path: Path) -> None:
    fifo = str(tmp_path / "started")
    os.mkfifo(fifo)
    sandbox = Sandbox()
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so the worker's open() can proceed
    running = sandbox.submit(targets.announce_then_sleep, fifo, 1000)
    readable, _, _ = select.select([reader], [], [], GENEROUS)
    assert readable and os.read(reader, 64) == b"started"
    os.close(reader)
    sandbox.close(wait=False)
    result = running.result(timeout=GENEROUS)
    assert result.reason == "crashed"
    assert isinstance(result.error, SandboxClosedError)


def test_a_circuit_breaker_opens_after_crashes_and_then_refuses_calls() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=60.0, name="sandbox-test")
    with Sandbox(breaker=breaker) as sandbox:
        assert sandbox.run(targets.raise_value_error, "x").reason == "exception"  # an answer
        assert breaker.state == "closed"
        assert sandbox.run(targets.hard_exit, 1).reason == "crashed"
        assert sandbox.run(targets.segfault).reason == "crashed"
        assert breaker.statistics().state == "open"
        with pytest.raises(CircuitOpenError):
            sandbox.run(targets.double, 1)
        assert sandbox.stats().calls == 3
        future = sandbox.submit(targets.double, 1)
        with pytest.raises(CircuitOpenError):
            future.result(timeout=GENEROUS)


def test_composing_a_breaker_by_hand_with_unwrap_works_too() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=60.0)
    with Sandbox() as sandbox:
        with pytest.raises(SandboxError):
            breaker.call(lambda: sandbox.run(targets.segfault).unwrap())
        with pytest.raises(CircuitOpenError):
            breaker.call(lambda: sandbox.run(targets.double, 1).unwrap())


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"timeout": 0}, ValueError, r"^timeout must be a finite number > 0, got 0$"),
        ({"cpu_time": "1"}, TypeError, r"^cpu_time must be a number, got '1'$"),
        ({"memory": "lots"}, ValueError, r"^memory must be an int \(bytes\) or a str such as"),
        ({"max_output": 0}, ValueError, r"^max_output must be at least 1 byte; got 0$"),
        ({"workers": 0}, ValueError, r"^workers must be an int >= 1, got 0$"),
        ({"max_depth": 0}, ValueError, r"^max_depth must be an int >= 1, got 0$"),
        ({"max_recursion": 1.5}, TypeError, r"^max_recursion must be an int, got 1\.5$"),
        ({"max_tasks_per_worker": 0}, ValueError, r"^max_tasks_per_worker must be an int >= 1"),
        ({"breaker": object()}, TypeError, r"^breaker must be a CircuitBreaker, got <object"),
        ({"env": {"A": 1}}, TypeError, r"^env must map str to str$"),
        ({"allow_pickle": 1}, TypeError, r"^allow_pickle must be True or False, got 1$"),
    ],
)
def test_bad_options_are_refused_before_anything_starts(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Sandbox(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "error", "argument"),
    [
        ({"timeout": float("nan")}, InvalidArgumentError, "timeout"),
        ({"timeout": float("inf")}, InvalidArgumentError, "timeout"),
        ({"cpu_time": -1.0}, InvalidArgumentError, "cpu_time"),
        ({"cpu_time": True}, ArgumentTypeError, "cpu_time"),
        ({"memory": -5}, InvalidArgumentError, "memory"),
        ({"memory": 1.5e9}, ArgumentTypeError, "memory"),
        ({"max_output": "16 parsecs"}, InvalidArgumentError, "max_output"),
        ({"max_worker_memory": [1]}, ArgumentTypeError, "max_worker_memory"),
        ({"workers": True}, ArgumentTypeError, "workers"),
        ({"workers": -2}, InvalidArgumentError, "workers"),
        ({"max_depth": 2.0}, ArgumentTypeError, "max_depth"),
        ({"max_recursion": 0}, InvalidArgumentError, "max_recursion"),
        ({"max_tasks_per_worker": "3"}, ArgumentTypeError, "max_tasks_per_worker"),
        ({"start_timeout": float("inf")}, InvalidArgumentError, "start_timeout"),
        ({"start_timeout": None}, ArgumentTypeError, "start_timeout"),
        ({"breaker": "llm"}, ArgumentTypeError, "breaker"),
        ({"env": ["PATH"]}, ArgumentTypeError, "env"),
        ({"allow_pickle": "yes"}, ArgumentTypeError, "allow_pickle"),
    ],
)
def test_bad_options_raise_typed_errors_that_name_them(
    options: dict[str, object], error: type[Exception], argument: str
) -> None:
    with pytest.raises(error) as raised:
        Sandbox(**options)  # type: ignore[arg-type]
    assert raised.value.argument == argument
    assert str(raised.value).startswith(f"{argument} must ")


def test_fn_and_run_module_names_are_checked_with_typed_errors() -> None:
    with Sandbox() as sandbox:
        with pytest.raises(ArgumentTypeError) as fn:
            sandbox.run("targets.double")  # type: ignore[arg-type]
        with pytest.raises(ArgumentTypeError) as function:
            sandbox.run_module("sandbox_targets", targets.double)  # type: ignore[arg-type]
    assert (fn.value.argument, function.value.argument) == ("fn", "function")


def test_fn_must_be_callable_and_run_module_takes_names() -> None:
    with Sandbox() as sandbox:
        with pytest.raises(TypeError, match=r"^fn must be callable, got 3$"):
            sandbox.run(3)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^run_module takes the module and function names"):
            sandbox.run_module(targets, "double")  # type: ignore[arg-type]


def test_repr_shows_the_limits_and_the_state() -> None:
    sandbox = Sandbox(timeout=1.5, memory=1000)
    assert repr(sandbox) == (
        "Sandbox(1 workers, timeout=1.5, cpu_time=None, memory=1000, max_output=16777216, depth=0/8)"
    )
    sandbox.close()
    assert repr(sandbox).startswith("Sandbox(closed, ")
    with Sandbox(timeout=0.3) as sandbox:
        assert repr(sandbox.run(targets.double, 2)).startswith("SandboxResult(ok, value=4, ")


def test_the_host_polls_before_sleeping_only_while_calls_are_quick(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[float, bool]] = []  # per call: the worker's last duration, and a spin?
    spin, wait = _call.Call.spin, _call.Call.wait

    def counted_spin(call: _call.Call) -> None:
        seen[-1] = (seen[-1][0], True)
        spin(call)

    def noted_wait(call: _call.Call) -> SandboxResult:
        seen.append((call.worker.last_duration, False))
        return wait(call)

    monkeypatch.setattr(_call.Call, "spin", counted_spin)
    monkeypatch.setattr(_call.Call, "wait", noted_wait)
    with Sandbox(workers=1) as sandbox:
        for call in [(targets.double, 1), (targets.sleep, 0.01), (targets.double, 2), (targets.double, 3)]:
            assert sandbox.run(*call).ok
    assert seen[0] == (0.0, True)  # a fresh worker's first call
    assert seen[2][0] >= 0.01 and not seen[2][1]  # right after the 10 ms call
    assert all(spun == (last < _call.QUICK) for last, spun in seen)


def test_the_host_never_polls_while_another_call_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spun: list[int] = []
    spin = _call.Call.spin

    def counted_spin(call: _call.Call) -> None:
        spun.append(call.worker.token)
        spin(call)

    monkeypatch.setattr(_call.Call, "spin", counted_spin)
    fifo = str(tmp_path / "started")
    os.mkfifo(fifo)
    sandbox = Sandbox(workers=2)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so the worker's open() can proceed
    running = sandbox.submit(targets.announce_then_sleep, fifo, 1000)
    readable, _, _ = select.select([reader], [], [], GENEROUS)
    assert readable and os.read(reader, 64) == b"started"
    os.close(reader)
    spun.clear()  # the long call's own spin, if it got that far
    assert [sandbox.run(targets.double, i).value for i in range(5)] == [0, 2, 4, 6, 8]
    assert spun == []
    sandbox.close(wait=False)
    assert running.result(timeout=GENEROUS).reason == "crashed"


def test_a_worker_configuration_too_big_for_the_fork_server_is_a_clear_start_error() -> None:
    env = {f"BIG_{i}": "x" * 100_000 for i in range(3)}  # each under the kernel's 128 KiB
    with pytest.raises(
        SandboxStartError,
        match=r"^a sandbox worker's configuration \(sys\.path, "
        r"sys\.argv, env\) is \d+ bytes pickled, over "
        r"the fork server's 262144; pass a smaller env=",
    ):
        Sandbox(env=env)
