"""Workflow steps on Ray: the same outputs as local steps, fan-out, outputs handed over in
Ray's object store, timeouts that cancel the task, limits enforced by a sandbox on the
worker, remote failures named, spans brought back."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

import zixir.ray as zray

# By its package path from the repository root, the directory the tests run in: Ray adds
# that directory to its workers' sys.path, so they import the steps by the same name.
from tests.on_ray import ray_steps_programs as programs
from zixir import RetryPolicy, tracing
from zixir._counters import counters
from zixir.errors import RayNotConnectedError, StepTimeoutError
from zixir.observability import events
from zixir.workflow import Workflow

ray = pytest.importorskip("ray")


def _mixed(make: Callable[..., Workflow], name: str, on_ray: str | None) -> Workflow:
    """load (thread) -> square (fan-out) -> total, and shout: Ray where `on_ray` says."""
    wf = make(name, inputs=("count", "text"))
    wf.add_step("numbers", programs.numbers, depends_on=(), executor="thread")
    wf.add_step("square", programs.square, map_over="numbers", executor=on_ray)
    wf.add_step("total", programs.total, executor=on_ray)
    wf.add_step("shout", programs.shout, executor=on_ray)
    return wf


def _arguments(passed: str) -> float:
    (counter,) = [c for c in counters() if c.name == "zixir_workflow_ray_arguments"]
    return dict(counter.samples()).get((passed,), 0.0)


def test_a_dag_mixing_thread_and_ray_steps_gives_the_outputs_of_the_all_local_run(
    ray_cluster: str, make: Callable[..., Workflow]
) -> None:
    inputs = {"count": 12, "text": "on ray"}
    local = _mixed(make, "local", None).run("r1", inputs)
    mixed = _mixed(make, "mixed", "ray").run("r1", inputs)
    assert mixed.status == local.status == "succeeded"
    assert mixed.outputs == local.outputs
    assert mixed.outputs["square"] == [n * n for n in range(12)]  # in item order
    assert mixed.outputs["total"] == sum(n * n for n in range(12))
    assert mixed.outputs["shout"] == "ON RAY"
    assert [mixed.steps[s].status for s in ("numbers", "square", "total", "shout")] == ["succeeded"] * 4


def test_map_over_on_ray_submits_every_item_and_keeps_their_order(
    ray_cluster: str, make: Callable[..., Workflow]
) -> None:
    wf = make("fan", inputs=("count",), executor="ray")
    wf.add_step("numbers", programs.numbers, executor="thread")
    wf.add_step("square", programs.square, map_over="numbers")
    result = wf.run("r1", {"count": 200})
    assert result.outputs["square"] == [n * n for n in range(200)]
    assert wf.status("r1").outputs["square"] == result.outputs["square"]  # checkpointed, by value


def test_a_fan_out_larger_than_the_in_flight_bound_is_fed_to_ray_as_its_items_end(
    ray_cluster: str, make: Callable[..., Workflow], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zixir.ray import steps

    monkeypatch.setattr(steps, "MAX_IN_FLIGHT", 3)
    in_flight: list[int] = []
    submit = steps.RaySteps.submit

    def counted(self: steps.RaySteps, *args: Any) -> None:
        submit(self, *args)
        in_flight.append(self.in_flight())

    monkeypatch.setattr(steps.RaySteps, "submit", counted)
    wf = make("bounded", inputs=("count",), executor="ray")
    wf.add_step("numbers", programs.numbers, executor="thread")
    wf.add_step("square", programs.square, map_over="numbers")
    assert wf.run("r1", {"count": 40}).outputs["square"] == [n * n for n in range(40)]
    assert len(in_flight) == 40 and max(in_flight) <= 3


def test_a_ray_step_receives_an_upstream_ray_steps_output_from_the_object_store(
    ray_cluster: str, make: Callable[..., Workflow]
) -> None:
    wf = make("handover", inputs=("size",), executor="ray")
    wf.add_step("blob", programs.blob)
    wf.add_step("checksum", programs.checksum)
    by_reference, by_value = _arguments("reference"), _arguments("value")
    result = wf.run("r1", {"size": 8 << 20})
    expected = programs.checksum(programs.blob(8 << 20))
    assert result.outputs["checksum"] == expected
    assert _arguments("reference") - by_reference == 1  # checksum's blob: its ObjectRef, not re-sent
    assert _arguments("value") - by_value == 1  # blob's size, a run input
    assert len(wf.status("r1").outputs["blob"]) == 8 << 20  # the checkpoint holds the value itself


def test_a_retried_ray_step_gets_its_upstream_output_by_value(
    ray_cluster: str, make: Callable[..., Workflow], tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    wf = make("retried", inputs=("size", "markers"), executor="ray")
    wf.add_step("blob", programs.blob)
    retry = RetryPolicy(max_attempts=2, initial_delay=0.0, jitter=0.0)
    wf.add_step("flaky_size", programs.flaky_size, retry=retry)
    by_reference, by_value = _arguments("reference"), _arguments("value")
    assert wf.run("r1", {"size": 1 << 20, "markers": str(markers)}).outputs["flaky_size"] == 1 << 20
    # blob: size by value; flaky_size: blob by reference, then by value on its retry
    assert _arguments("reference") - by_reference == 1
    assert _arguments("value") - by_value == 1 + 1 + 2


def test_a_ray_step_past_its_timeout_is_cancelled_and_retried(
    ray_cluster: str, make: Callable[..., Workflow], tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    seen: list[dict[str, Any]] = []
    logger.enable("zixir")
    handler = logger.add(lambda m: seen.append(m.record["extra"]), level="WARNING")
    try:
        wf = make("slow", inputs=("markers",))
        errors: list[Exception] = []
        retry = RetryPolicy(max_attempts=2, initial_delay=0.0, jitter=0.0, giveup=lambda e: errors.append(e) or False)
        wf.add_step("slow", programs.slow_first_attempt, executor="ray", timeout=1.0, retry=retry)
        result = wf.run("r1", {"markers": str(markers)})
    finally:
        logger.remove(handler)
        logger.disable("zixir")
    assert result.status == "succeeded" and result.outputs == {"slow": 2}
    assert result.steps["slow"].attempts == 2
    [timed_out] = errors
    assert isinstance(timed_out, StepTimeoutError)
    assert str(timed_out) == "step 'slow' took longer than its timeout of 1.0s: its Ray task was cancelled"
    # the first attempt's worker process was killed, not left to run
    programs.wait_gone(int((markers / "first.pid").read_text()), 30)
    assert programs.runs_of(markers, "survived") == 0
    cancelled = [r for r in seen if r.get("event") == events.RAY_STEP_CANCELLED]
    assert cancelled == [{"event": "ray.step_cancelled", "workflow": "slow", "step": "slow", "timeout": 1.0}]


def test_a_ray_step_with_a_memory_limit_that_allocates_past_it_fails_with_the_sandbox_reason(
    ray_cluster: str, make: Callable[..., Workflow]
) -> None:
    wf = make("limited", inputs=("megabytes",))
    wf.add_step("hog", programs.hog, executor="ray", limits={"memory": "64MB"})
    result = wf.run("r1", {"megabytes": 1024})
    assert result.status == "failed"
    [letter] = wf.dead_letters()
    assert letter.error_type == "zixir.errors.SandboxError"
    assert letter.message.startswith("step 'hog': the sandboxed call on its Ray worker failed (memory): ")
    assert "MemoryError" in letter.traceback
    assert wf.run("r2", {"megabytes": 8}).outputs == {"hog": 8 << 20}  # within the limit


def test_a_ray_steps_exception_comes_back_as_itself_with_the_remote_traceback(
    ray_cluster: str, make: Callable[..., Workflow]
) -> None:
    wf = make("failing", inputs=("user",), executor="ray")
    seen: list[Exception] = []
    retry = RetryPolicy(max_attempts=2, initial_delay=0.0, jitter=0.0, giveup=lambda e: seen.append(e) or False)
    wf.add_step("quota", programs.quota, retry=retry)
    result = wf.run("r1", {"user": "ada"})
    assert result.status == "failed"
    assert {(type(e), str(e)) for e in seen} == {(LookupError, "no quota for ada")}  # the user's own type
    [letter] = wf.dead_letters()
    assert (letter.error_type, letter.message, letter.attempts) == ("builtins.LookupError", "no quota for ada", 2)
    assert 'in quota\n    raise LookupError(f"no quota for {user}")' in letter.traceback  # the worker's frames


def test_a_ray_step_whose_worker_dies_fails_with_the_cause_named(
    ray_cluster: str, make: Callable[..., Workflow]
) -> None:
    wf = make("crash", inputs=("code",))
    wf.add_step("exit_worker", programs.exit_worker, executor="ray")
    result = wf.run("r1", {"code": 3})
    assert result.status == "failed"
    [letter] = wf.dead_letters()
    assert letter.error_type == "zixir.errors.RayTaskLostError"
    assert letter.message.startswith("step 'exit_worker': its Ray task failed (worker_died): ")


def test_spans_made_on_the_ray_worker_join_the_attempts_span(ray_cluster: str, make: Callable[..., Workflow]) -> None:
    tracing.clear()
    wf = make("traced", inputs=("count",))
    wf.add_step("numbers", programs.numbers)
    wf.add_step("traced_double", programs.traced_double, map_over="numbers", executor="ray")
    with tracing.span("caller") as caller:
        assert wf.run("r1", {"count": 2}).outputs["traced_double"] == [0, 2]
    spans = tracing.finished_spans(caller.trace_id)
    attempts = {s.attributes["item"]: s for s in spans if s.name == "workflow.step traced_double"}
    inside = {s.attributes["item"]: s for s in spans if s.name == "inside.ray"}
    assert sorted(inside) == [0, 1]
    assert all(inside[i].parent_id == attempts[i].span_id for i in (0, 1))
    tracing.clear()


def test_cancelling_a_run_cancels_its_ray_tasks_and_a_resume_runs_them_again(
    ray_cluster: str, make: Callable[..., Workflow], tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    os.mkfifo(markers / "held")
    os.mkfifo(markers / "go")
    wf = make("cancelled", inputs=("markers",))
    wf.add_step("prepare", programs.prepare)
    wf.add_step("scale", lambda prepare: prepare)
    wf.add_step("hold", programs.hold, executor="ray")
    execution = wf.begin("r1", {"markers": str(markers)})
    ended: list[Any] = []
    runner = threading.Thread(target=lambda: ended.append(execution.execute()))
    runner.start()
    worker = int(programs.read_line(markers / "held", 60.0))  # the step runs on its worker
    assert wf.cancel("r1")
    runner.join(60)
    programs.wait_gone(worker, 30)  # its task was cancelled: the worker process is gone
    assert ended[0].status == "cancelled" and ended[0].steps["hold"].status == "pending"
    result = wf.run("r1")  # hold's second run does not wait
    assert result.outputs["hold"] == 10 and programs.runs_of(markers, "hold") == 2


def test_steps_on_ray_need_a_connection_when_the_workflow_runs(make: Callable[..., Workflow]) -> None:
    assert zray.connected() is None
    wf = make("unconnected")
    wf.add_step("shout", lambda: "x", executor="ray")
    message = (
        r"^step 'shout' of workflow 'unconnected' runs on Ray, but this process is not connected to a Ray "
        r"cluster: call zixir\.ray\.connect\(\) \(a local cluster\) or zixir\.ray\.connect\('host:port'\) "
        r"\(an existing one\) first$"
    )
    with pytest.raises(RayNotConnectedError, match=message):
        wf.run("r1")
    assert wf.runs() == []  # refused before the run was recorded
