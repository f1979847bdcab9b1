"""Every limit, exceeded for real: wall time, CPU time, memory, nesting depth, output size.

Limits are small so the suite stays fast on two cores; no test sleeps to wait.
"""

from __future__ import annotations

import math
import resource

import pytest
import sandbox_targets as targets

from zixir.errors import SandboxError, SandboxLimitError, SandboxTimeoutError
from zixir.sandbox import Sandbox

GENEROUS = 30.0  # a wall-clock timeout that only catches a broken limit under heavy load


def test_a_call_past_its_timeout_is_killed_and_reported_as_timeout() -> None:
    with Sandbox(timeout=0.3) as sandbox:
        result = sandbox.run(targets.spin)
        assert result.reason == "timeout"
        assert isinstance(result.error, SandboxTimeoutError)
        assert isinstance(result.error, TimeoutError)
        assert result.error.limit == 0.3
        assert 0.3 <= result.duration < GENEROUS
        assert str(result.error) == "the call ran past timeout=0.3s; its worker was killed"
        assert sandbox.run(targets.double, 4).value == 8  # a fresh worker took its place


def test_a_sleeping_call_past_its_timeout_is_killed_too() -> None:
    with Sandbox(timeout=0.3) as sandbox:
        assert sandbox.run(targets.sleep, 1000).reason == "timeout"


def test_a_call_over_its_cpu_time_is_killed_and_reported_as_cpu() -> None:
    with Sandbox(timeout=GENEROUS, cpu_time=0.3) as sandbox:
        result = sandbox.run(targets.spin)
    assert result.reason == "cpu"
    assert isinstance(result.error, SandboxLimitError)
    assert result.error.reason == "cpu"
    assert result.cpu_seconds > 0.3
    assert str(result.error).startswith("the call used ")


def test_sleeping_uses_no_cpu_time() -> None:
    with Sandbox(timeout=GENEROUS, cpu_time=0.05) as sandbox:
        result = sandbox.run(targets.sleep, 0.2)
    assert result.ok
    assert result.cpu_seconds < 0.05


def test_the_cpu_rlimit_backstop_is_set_per_call_above_the_cpu_used_so_far() -> None:
    with Sandbox(cpu_time=0.5) as sandbox:
        soft, used = sandbox.run(targets.cpu_limit).unwrap()
    assert used + 1.0 < soft <= math.ceil(used + 0.5 + 1.0)  # CPU used + limit + 1 s


def test_sigxcpu_from_the_cpu_rlimit_is_reported_as_cpu() -> None:
    with Sandbox(cpu_time=5) as sandbox:
        result = sandbox.run(targets.send_sigxcpu)
    assert result.reason == "cpu"
    assert result.signal == 24  # SIGXCPU
    assert "RLIMIT_CPU" in str(result.error)


def test_memory_grown_past_the_limit_is_caught_by_polling_and_the_worker_is_killed() -> None:
    with Sandbox(timeout=GENEROUS, memory="64MB") as sandbox:
        result = sandbox.run(targets.grow, 200)
        assert result.reason == "memory"
        assert isinstance(result.error, SandboxLimitError)
        assert result.error.used > 64_000_000
        assert result.peak_memory is not None and result.peak_memory > 64_000_000
        assert sandbox.run(targets.double, 1).pid != result.pid


def test_one_allocation_past_the_data_rlimit_is_a_memory_error_reported_as_memory() -> None:
    with Sandbox(timeout=GENEROUS, memory="64MB") as sandbox:
        result = sandbox.run(targets.allocate, 1024)
        assert result.reason == "memory"
        assert isinstance(result.error, MemoryError)
        assert "MemoryError" in (result.traceback or "")
        assert sandbox.run(targets.double, 1).pid != result.pid  # replaced after MemoryError


def test_memory_used_within_the_limit_is_fine_and_reported_as_peak_memory() -> None:
    with Sandbox(timeout=GENEROUS, memory="64MB") as sandbox:
        result = sandbox.run(targets.grow, 20)
    assert result.value == 20
    assert result.peak_memory is not None and result.peak_memory > 20 << 20


def test_the_data_rlimit_backstop_is_only_set_with_a_memory_limit() -> None:
    with Sandbox() as sandbox:
        assert sandbox.run(targets.data_limit).value == resource.RLIM_INFINITY
    with Sandbox(memory="64MB") as sandbox:
        assert 64_000_000 < sandbox.run(targets.data_limit).value < 2 << 30


def test_a_memory_error_without_a_memory_limit_is_an_exception() -> None:
    with Sandbox() as sandbox:
        result = sandbox.run(targets.raise_memory_error)
    assert result.reason == "exception"
    assert isinstance(result.error, MemoryError)


def test_recursion_past_max_recursion_is_reported_as_depth() -> None:
    with Sandbox(max_recursion=200) as sandbox:
        assert sandbox.run(targets.recurse, 150).value == 150
        result = sandbox.run(targets.recurse, 10_000)
    assert result.reason == "depth"
    assert isinstance(result.error, RecursionError)


def test_nested_sandboxes_work_within_max_depth() -> None:
    with Sandbox(timeout=GENEROUS, max_depth=2) as sandbox:
        assert sandbox.run(targets.nest, 1, timeout=GENEROUS).value == "2"


def test_a_sandbox_nested_deeper_than_max_depth_refuses_and_reports_depth() -> None:
    with Sandbox(timeout=GENEROUS, max_depth=1) as sandbox:
        result = sandbox.run(targets.nest, 1, timeout=GENEROUS, max_depth=8)
    assert result.reason == "depth"  # the outermost max_depth holds for everything inside
    assert isinstance(result.error, SandboxLimitError)
    assert str(result.error) == ("sandboxes nest 1 deep at most (max_depth); this call would run at depth 2")


def test_a_result_bigger_than_max_output_is_reported_as_output_and_the_worker_stays() -> None:
    with Sandbox(max_output="1MB") as sandbox:
        result = sandbox.run(targets.huge_result, 2_000_000)
        assert result.reason == "output"
        assert result.value is None
        assert str(result.error).startswith("the result is 20000")
        assert str(result.error).endswith("bytes serialized, over max_output=1000000")
        assert sandbox.run(targets.double, 1).pid == result.pid


def test_printing_more_than_max_output_kills_the_worker_and_keeps_the_first_bytes() -> None:
    with Sandbox(timeout=GENEROUS, max_output="1MB") as sandbox:
        result = sandbox.run(targets.huge_print, 5_000_000)
        assert result.reason == "output"
        assert result.stdout == "y" * 1_000_000
        assert sandbox.run(targets.double, 1).pid != result.pid


def test_unwrap_raises_a_sandbox_error_carrying_the_result() -> None:
    with Sandbox(timeout=0.3) as sandbox:
        result = sandbox.run(targets.spin)
    with pytest.raises(
        SandboxError,
        match=r"^the sandboxed call failed \(timeout\): the call "
        r"ran past timeout=0\.3s",
    ) as caught:
        result.unwrap()
    assert caught.value.result is result
    assert caught.value.__cause__ is result.error


def test_a_spike_over_the_memory_limit_between_two_polls_is_still_reported_as_memory() -> None:
    with Sandbox(memory="10MB") as sandbox:
        sandbox.run(targets.double, 1)  # the worker's first call imports the targets
        spiked = sandbox.run(targets.allocate, 16)  # freed again within a few ms
        assert spiked.reason == "memory", spiked
        assert spiked.peak_memory is not None and spiked.error is not None
        assert sandbox.run(targets.allocate, 2).ok
