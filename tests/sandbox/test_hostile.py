"""Under damage and hostile input: nothing a worker sends runs code in the host or makes it
allocate past a bound, and a worker a call damaged never stays broken.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import hostile_targets as hostile
import pytest

from zixir.errors import RemoteError, SerializationError, WorkerCrashedError
from zixir.sandbox import Sandbox, _protocol

HERE = Path(__file__).parent
GENEROUS = 30.0


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(timeout=GENEROUS) as sandbox:
        yield sandbox


def _host(code: str) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh host process: if the worker took it over, it dies there."""
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, env=env
    )


def test_an_exception_whose_unpickling_would_exit_the_host_comes_back_as_a_remote_error() -> None:
    done = _host("""
        import hostile_targets
        from zixir.sandbox import Sandbox
        with Sandbox(timeout=30) as sandbox:
            result = sandbox.run(hostile_targets.raise_exit_bomb)
            print(result.reason, type(result.error).__name__, result.error, flush=True)
        print("host alive")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "exception RemoteError hostile_targets.ExitBomb: boom\nhost alive\n", done.stderr


def test_a_result_whose_unpickling_would_exit_the_host_is_refused_with_how_to_fix_it(sandbox: Sandbox) -> None:
    result = sandbox.run(hostile.return_exit_bomb)
    assert result.reason == "exception"
    assert isinstance(result.error, SerializationError)
    assert str(result.error).startswith(
        "the call's result cannot be sent back: cannot serialize hostile_targets._ExitBombValue: "
    )
    assert "register a dataclass" in str(result.error) and "allow_pickle=True" in str(result.error)


@pytest.mark.parametrize("size", [4_000_000_000, 1 << 40, (1 << 64) - 1])
def test_a_forged_frame_length_is_refused_before_the_host_allocates_it(size: int) -> None:
    with Sandbox(timeout=10.0, max_output="1MB") as sandbox:
        result = sandbox.run(hostile.forge, hostile.header(size), False)
        assert result.reason == "crashed"
        assert isinstance(result.error, WorkerCrashedError)
        assert str(result.error) == (
            f"the worker broke the sandbox protocol (the worker announced a frame of {size} bytes, "
            f"over the bound of {1_000_000 + _protocol.REPORT_OVERHEAD}); it was killed and replaced"
        )
        assert sandbox.run(hostile.print_both_ways, "next").value != result.pid  # a fresh worker


@pytest.mark.parametrize(
    "body",
    [b"garbage", b"\x80\x05\x95" + b"\x00" * 80],  # not a report; a pickle where a report belongs
)
def test_a_forged_report_is_refused_and_its_worker_killed(sandbox: Sandbox, body: bytes) -> None:
    result = sandbox.run(hostile.forge, hostile.header(len(body)) + body, False)
    assert result.reason == "crashed"
    assert str(result.error).startswith("the worker broke the sandbox protocol (a report")


def test_two_frames_where_one_is_due_are_refused(sandbox: Sandbox) -> None:
    result = sandbox.run(hostile.forge, (hostile.header(2) + b"ab") * 2, False)
    assert result.reason == "crashed"
    assert "broke the sandbox protocol" in str(result.error)


def test_a_pickle_in_a_forged_result_is_not_run_without_allow_pickle() -> None:
    done = _host("""
        import hostile_targets, pickle
        from zixir.sandbox import Sandbox, _protocol, _payload
        import zixir.serialization as s
        value = hostile_targets._ExitBombValue()
        fields = ("ok", 0.0, None, 0, 0, 0.0, False, False, None, None, None, None)
        for bomb in (pickle.dumps(value), _payload.ZIXIR + s.dumps(value, allow_pickle=True)):
            report = b"".join(_protocol.encode_report(fields, bomb))
            with Sandbox(timeout=30) as sandbox:
                result = sandbox.run(hostile_targets.forge, hostile_targets.header(len(report)) + report, True)
                print(result.reason, type(result.error).__name__, flush=True)
        print("host alive")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "exception SerializationError\nexception SerializationError\nhost alive\n", done.stderr


# -- the worker's standard streams --------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        hostile.close_stdout,
        hostile.with_fdopen_stdout,
        hostile.close_sys_stdout,
        hostile.redirect_stdout_to_devnull,
    ],
)
def test_a_call_that_closes_or_replaces_stdout_leaves_the_next_calls_output_captured(
    sandbox: Sandbox, damage: object
) -> None:
    damaged = sandbox.run(damage)  # type: ignore[arg-type]
    assert damaged.ok, damaged
    after = sandbox.run(hostile.print_both_ways, "after")
    assert after.stdout == "after\nafter (fd)\n"
    assert after.value == damaged.value  # the same worker, repaired


def test_a_with_fdopen_call_keeps_its_own_output() -> None:
    with Sandbox(timeout=GENEROUS) as sandbox:
        assert sandbox.run(hostile.with_fdopen_stdout).stdout == "inside\n"


def test_a_worker_whose_stdout_cannot_be_put_back_is_replaced(sandbox: Sandbox) -> None:
    damaged = sandbox.run(hostile.close_stdout_and_its_copies)
    assert damaged.ok, damaged
    after = sandbox.run(hostile.print_both_ways, "after")
    assert after.stdout == "after\nafter (fd)\n"
    assert after.value != damaged.value  # a fresh worker


# -- sys.exit with a message ----------------------------------------------------------------


def test_sys_exit_with_a_message_keeps_the_message_in_the_error(sandbox: Sandbox) -> None:
    result = sandbox.run(hostile.exit_with_message, "bye")
    assert (result.reason, result.exit_code) == ("crashed", 1)
    assert isinstance(result.error, WorkerCrashedError)
    assert str(result.error) == "fn called sys.exit('bye'): exit status 1"
    assert result.error.exit_code == 1


def test_a_custom_error_comes_back_as_a_stand_in_unless_pickle_is_allowed() -> None:
    with Sandbox(timeout=GENEROUS) as default, Sandbox(timeout=GENEROUS, allow_pickle=True) as trusting:
        stand_in = default.run(hostile.raise_refused, "no")
        assert isinstance(stand_in.error, RemoteError)
        assert (stand_in.error.type_name, str(stand_in.error)) == (
            "hostile_targets.Refused",
            "hostile_targets.Refused: no",
        )
        itself = trusting.run(hostile.raise_refused, "no")
        assert type(itself.error) is hostile.Refused and str(itself.error) == "no"


def test_a_call_over_the_bound_a_worker_reads_is_refused_before_anything_runs(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zixir.sandbox import _protocol

    monkeypatch.setattr(_protocol, "CALL_MAX", 1000)  # the real bound is 2 GiB
    with pytest.raises(
        SerializationError,
        match=r"^cannot send the call to the sandbox: it is \d+ bytes pickled, over the 1000 bytes a call may carry; ",
    ):
        sandbox.run(hostile.print_both_ways, "x" * 2000)
    assert sandbox.stats().calls == 0
