"""The workflow part of the demo: run the feature workflow in a child process, kill it
with SIGKILL while a step runs, resume the run here, and prove what was not run again."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from zixir.demo import features
from zixir.demo.faults import FaultPlan

__all__ = ["ResumeReport", "kill_and_resume"]

_PER_WINDOW = 200
_CHILD_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class ResumeReport:
    """What happened to the feature workflow.

    Attributes:
        run_id: The run killed and resumed.
        killed_signal: The signal that ended the child (9: SIGKILL), None if it was not killed.
        killed_during: The step that was running when the child was killed.
        committed_before_kill: Steps committed by the child (never run again on resume).
        run_after_resume: Steps the resumed run executed.
        redone: Committed steps the resumed run executed anyway (must be none).
        status: The resumed run's status.
        features_match: The resumed run's features equal a straight computation.
        features: One feature vector per user.
    """

    run_id: str
    killed_signal: int | None
    killed_during: str
    committed_before_kill: tuple[str, ...]
    run_after_resume: tuple[str, ...]
    redone: tuple[str, ...]
    status: str
    features_match: bool
    features: dict[str, list[float]] = field(repr=False)


def kill_and_resume(directory: Path, plan: FaultPlan, say: object = print) -> ResumeReport:
    """Runs the workflow in a child process, kills it in `plan.workflow_kill_step`, resumes it.

    Args:
        directory: Where the workflow's store and the execution log go.
        plan: The demo's fault plan (seed, users, the step to kill in).
        say: Called with a line of progress.

    Raises:
        RuntimeError: the child never reached the step, or exited by itself.
    """
    store, log = directory / "workflow", directory / "executions.log"
    run_id = f"features-{plan.seed}"
    inputs = {"seed": plan.seed, "users": plan.users, "per_window": _PER_WINDOW}
    step = plan.workflow_kill_step
    child = subprocess.Popen(
        [sys.executable, "-m", "zixir.demo._child", str(store), run_id, str(log), step]
        + [str(inputs[name]) for name in ("seed", "users", "per_window")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_line(child, f"running {step}")
        os.kill(child.pid, signal.SIGKILL)
        code = child.wait(_CHILD_TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert child.stdout is not None
        child.stdout.close()
    killed = -code if code < 0 else None
    _say(say, f"workflow: killed its process (pid {child.pid}) with SIGKILL while {step!r} ran")
    wf = features.build_workflow(store)
    before = wf.status(run_id)
    committed = tuple(name for name in features.STEPS if before.steps[name].status == "succeeded")
    features.log_executions_to(log)
    try:
        result = wf.run(run_id=run_id)
    finally:
        features.log_executions_to(None)
    mine = _executed_by(log, os.getpid())
    _say(
        say,
        f"workflow: resumed {run_id}: {len(committed)} committed steps loaded, "
        f"{len(mine)} run here ({', '.join(mine)}): {result.status}",
    )
    outputs = result.outputs.get("features", {})
    expected = features.compute_directly(plan.seed, plan.users, _PER_WINDOW)
    return ResumeReport(
        run_id=run_id,
        killed_signal=killed,
        killed_during=step,
        committed_before_kill=committed,
        run_after_resume=tuple(mine),
        redone=tuple(name for name in committed if name in mine),
        status=result.status,
        features_match=outputs == expected,
        features=outputs,
    )


def _wait_for_line(child: subprocess.Popen[str], line: str) -> None:
    assert child.stdout is not None
    deadline = time.monotonic() + _CHILD_TIMEOUT
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([child.stdout], [], [], left)
        if not ready:
            break
        got = child.stdout.readline()
        if not got:
            raise RuntimeError(f"the workflow's process exited ({child.wait()}) before {line!r}")
        if got.strip() == line:
            return
    raise RuntimeError(f"the workflow's process did not report {line!r} within {_CHILD_TIMEOUT:.0f} s")


def _executed_by(log: Path, pid: int) -> list[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [step for step, _, who in (line.partition(" ") for line in lines) if who == str(pid)]


def _say(say: object, line: str) -> None:
    if callable(say):
        say(line)
