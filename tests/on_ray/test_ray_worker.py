"""The worker side of Ray steps, run in this process: the sandboxes a worker keeps (bounded,
least recently used closed first), the trace header, outputs that carry spans."""

from __future__ import annotations

import pickle

import pytest

from tests.on_ray import ray_steps_programs as programs
from zixir.errors import InvalidArgumentError, SandboxError
from zixir.ray import worker


def test_a_worker_keeps_at_most_its_bound_of_sandboxes_and_closes_the_least_recently_used() -> None:
    cache = worker.SandboxCache(max_size=2)
    try:
        first = cache.get({"memory": "64MB"}, False)
        second = cache.get({"memory": "96MB"}, False)
        assert cache.get({"memory": "64MB"}, False) is first  # used again: now the most recent
        churned = [cache.get({"max_recursion": 100 + n}, False) for n in range(5)]
        assert len(cache) == 2
        assert first.closed and second.closed
        assert [s.closed for s in churned] == [True, True, True, False, False]
        assert churned[-1].run(programs.square, 7).value == 49
    finally:
        cache.close()
    assert len(cache) == 0 and churned[-1].closed


def test_the_bound_is_read_from_the_environment_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZIXIR_RAY_MAX_SANDBOXES", "3")
    assert worker.max_sandboxes() == 3
    monkeypatch.delenv("ZIXIR_RAY_MAX_SANDBOXES")
    assert worker.max_sandboxes() == worker.MAX_SANDBOXES == 4
    for bad in ("many", "0"):
        monkeypatch.setenv("ZIXIR_RAY_MAX_SANDBOXES", bad)
        with pytest.raises(InvalidArgumentError, match=r"^ZIXIR_RAY_MAX_SANDBOXES must be"):
            worker.max_sandboxes()


def test_a_step_task_runs_its_function_and_returns_its_spans_only_when_it_made_some() -> None:
    trace = worker.encode_trace(("ab" * 16, "cd" * 8, True))
    assert worker.decode_trace(trace) == ("ab" * 16, "cd" * 8, True)
    assert worker.decode_trace("") is None
    plain = worker.step_task("square", programs.square, {}, False, ("numbers",), timed=False)
    assert plain([trace, 6]) == 36
    traced = worker.step_task("double", programs.traced_double, {}, False, ("numbers",), timed=False)
    made = traced(trace, worker.WithSpans(4, b""))  # an upstream Ray step's stored output
    assert type(made) is worker.WithSpans and made.output == 8 and made.spans
    again = pickle.loads(pickle.dumps(made))
    assert (again.output, again.spans) == (8, made.spans)
    timed = worker.step_task("square", programs.square, {}, False, ("numbers",), timed=True)
    assert list(timed([trace, 3])) == [worker.STARTED, 9]


def test_a_limit_breached_in_the_workers_sandbox_is_raised_with_its_reason_and_the_report() -> None:
    task = worker.step_task("hog", programs.hog, {"memory": "64MB"}, False, ("megabytes",), timed=False)
    message = r"^step 'hog': the sandboxed call on its Ray worker failed \(memory\)"
    try:
        with pytest.raises(SandboxError, match=message) as caught:
            task(["", 1024])
        spans, text = getattr(caught.value, worker.REPORT)
        assert caught.value.result.reason == "memory" and "MemoryError" in text and spans == b""
        assert task(["", 8]) == 8 << 20
    finally:
        worker.sandboxes().close()  # this process's: a Ray worker's end with it
