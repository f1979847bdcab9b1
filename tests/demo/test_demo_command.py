"""``zixir demo`` end to end, in a process of its own, and its checks on made-up reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from zixir.demo.faults import FaultPlan
from zixir.demo.run import DemoOptions
from zixir.demo.summary import checks
from zixir.errors import ArgumentTypeError, InvalidArgumentError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The JSON summary of ``zixir demo --seconds 5``, run with a data dir kept for the test."""
    data_dir = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, "-m", "zixir.cli", "demo", "--seconds", "5", "--json", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, (done.returncode, done.stdout[-2000:], done.stderr[-4000:])
    result: dict[str, Any] = json.loads(done.stdout)
    result["_stderr"] = done.stderr
    result["_data_dir"] = data_dir
    return result


def test_the_demo_exits_0_with_every_check_passed(summary: dict[str, Any]) -> None:
    assert summary["ok"] is True
    assert [c["name"] for c in summary["checks"] if not c["ok"]] == []
    assert len(summary["checks"]) == 13


def test_the_scoring_worker_was_restarted_while_requests_kept_flowing(summary: dict[str, Any]) -> None:
    assert summary["crashes_injected"] > 0
    assert summary["restarts"] >= summary["crashes_injected"]
    requests = summary["requests"]
    assert requests["served"] == requests["offered"] > 0 and requests["failed"] == 0
    assert requests["served_after_crash"] > 0
    assert 0 < requests["max_in_flight"] <= requests["bound"]


def test_the_killed_workflow_resumed_without_redoing_committed_steps(summary: dict[str, Any]) -> None:
    workflow = summary["workflow"]
    assert workflow["killed_signal"] == 9
    assert workflow["steps_resumed"] > 0
    assert workflow["committed_before_kill"] == ["events", "window_0", "window_1"]
    assert workflow["run_after_resume"] == ["window_2", "window_3", "features"]
    assert workflow["redone"] == [] and workflow["status"] == "succeeded" and workflow["features_match"]
    # The execution log on disk: each committed step ran once, in the killed process.
    lines = (summary["_data_dir"] / "executions.log").read_text().split("\n")
    ran = [line.split()[0] for line in lines if line]
    assert ran == ["events", "window_0", "window_1", "window_2", "window_2", "window_3", "features"]


def test_the_sandbox_killed_tool_calls_for_each_reason(summary: dict[str, Any]) -> None:
    assert summary["sandbox"]["kills"]["timeout"] > 0
    assert summary["sandbox"]["kills"]["memory"] > 0
    assert summary["sandbox"]["ok"] > 0


def test_the_breaker_tripped_and_the_rest_did_its_part(summary: dict[str, Any]) -> None:
    assert summary["api"]["breaker_trips"] > 0 and summary["api"]["retries"] > 0 and summary["api"]["ok"] > 0
    assert summary["cache"]["hits"] > 0 and 0 < summary["cache"]["hit_rate"] < 1
    assert summary["tokens"]["received"] == summary["tokens"]["streamed"] > 0
    assert (summary["http"]["healthz"], summary["http"]["metrics"]) == (200, 200)
    assert {"agent.request", "Agent.turn", "Scorer.score", "tool.lookup", "stream.run"} <= set(
        summary["trace"]["names"]
    )
    assert summary["trace"]["tree"][0] == "agent.request"


def test_progress_goes_to_stderr_and_the_log_to_the_data_dir(summary: dict[str, Any]) -> None:
    assert "fault: crashing demo-scorer before request 40" in summary["_stderr"]
    assert "SIGKILL while 'window_2' ran" in summary["_stderr"]
    assert (summary["_data_dir"] / "demo.log").stat().st_size > 0


def _passing_report() -> dict[str, Any]:
    return {
        "requests": {
            "offered": 10, "served": 10, "cached": 4, "failed": 0, "served_after_crash": 5,
            "retried": 1, "max_in_flight": 3, "bound": 12,
        },
        "crashes_injected": 1,
        "restarts": 1,
        "workflow": {
            "killed_signal": 9, "killed_during": "window_2", "steps_resumed": 3, "status": "succeeded",
            "redone": [], "steps_run_after_resume": 3, "features_match": True, "users": 4,
        },
        "sandbox": {"ok": 2, "kills": {"timeout": 1, "memory": 1}},
        "api": {"ok": 1, "failed": 1, "rejected": 1, "retries": 2, "breaker_trips": 1},
        "cache": {"hits": 1, "misses": 1, "hit_rate": 0.5},
        "tokens": {"streamed": 5, "received": 5},
        "http": {"healthz": 200, "metrics": 200, "metrics_has_restarts": True, "url": "http://127.0.0.1:1"},
        "trace": {"trace_id": "t", "spans": 3, "names": ["Agent.turn", "Scorer.score", "tool.lookup"]},
    }  # fmt: skip


def test_every_check_passes_on_a_report_where_every_part_did_its_part() -> None:
    assert [c.name for c in checks(_passing_report()) if not c.ok] == []


@pytest.mark.parametrize(
    ("part", "field", "value", "failed"),
    [
        ("sandbox", "kills", {"timeout": 2}, "sandbox killed hung and memory-hungry tool calls"),
        ("workflow", "redone", ["window_0"], "resumed run skipped its committed steps"),
        (None, "restarts", 0, "scoring worker restarted after each injected crash"),
        ("requests", "max_in_flight", 13, "backpressure bounded the requests in flight"),
        ("http", "healthz", 503, "/metrics and /healthz answered while running"),
    ],
)
def test_a_part_that_did_not_do_its_part_fails_its_check(part: str | None, field: str, value: Any, failed: str) -> None:
    report = _passing_report()
    (report if part is None else report[part])[field] = value
    assert [c.name for c in checks(report) if not c.ok] == [failed]


def test_the_fault_plan_puts_every_fault_early_and_repeats_it() -> None:
    plan = FaultPlan()
    assert [n for n in range(400) if plan.crashes_before(n)] == [40, 200, 360]
    assert {plan.tool_fault(n) for n in range(6)} == {"ok", "hang", "memory"}
    assert [n for n in range(130) if plan.api_fails(n)] == [
        3,
        4,
        5,
        6,
        7,
        8,
        63,
        64,
        65,
        66,
        67,
        68,
        123,
        124,
        125,
        126,
        127,
        128,
    ]
    assert [plan.user_for(n) for n in range(5)] == [FaultPlan().user_for(n) for n in range(5)]


def test_demo_options_refuse_what_they_cannot_honour() -> None:
    with pytest.raises(InvalidArgumentError, match="seconds"):
        DemoOptions(seconds=0)
    with pytest.raises(InvalidArgumentError, match=r"^seconds must be a finite number > 0, got inf$"):
        DemoOptions(seconds=float("inf"))
    with pytest.raises(ArgumentTypeError, match="seed"):
        DemoOptions(seed="1")  # type: ignore[arg-type]


def test_serve_runs_until_sigint_then_stops_in_order_and_summarizes(tmp_path: Path) -> None:
    import select
    import signal
    import time

    demo = subprocess.Popen(
        [sys.executable, "-m", "zixir.cli", "demo", "--serve", "--json", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert demo.stderr is not None
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        # Every part has had its fault once the health was probed and a memory kill counted.
        while not (any("GET /healthz 200" in s for s in seen) and any("memory 1 |" in s for s in seen)):
            ready, _, _ = select.select([demo.stderr], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no progress within 90 s: {seen[-5:]}"
            line = demo.stderr.readline()
            assert line, f"the demo exited early ({demo.wait()}): {seen[-5:]}"
            seen.append(line)
        assert any("running until Ctrl-C" in s for s in seen)
        demo.send_signal(signal.SIGINT)
        out, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert demo.returncode == 0, (out[-2000:], err[-3000:])
    assert "stopping on a signal" in err
    assert json.loads(out)["ok"] is True
