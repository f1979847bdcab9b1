"""Durability across real processes: kill -9 at random moments, retries that survive a
kill, cancellation from another process, two processes racing to resume one run.

Children report on their stdout, one line per event; the parent waits on that pipe
(never on the clock) and kills them with SIGKILL.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import wf_programs

from zixir.workflow import Workflow

SCRIPT = Path(wf_programs.__file__)
WAIT = 60.0


class Child:
    """A running wf_programs.py and its stdout, line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
        )  # fmt: skip
        assert self.process.stdout is not None
        self.out: IO[str] = self.process.stdout

    def line(self) -> str:
        """The next line (a watchdog kills the child if none comes within WAIT)."""
        timer = threading.Timer(WAIT, self.process.kill)
        timer.start()
        try:
            text = self.out.readline()
        finally:
            timer.cancel()
        if not text:
            self.process.wait(WAIT)
            raise AssertionError(f"the child ended (exit {self.process.returncode}): {self.stderr()}")
        return text.rstrip("\n")

    def until(self, wanted: str) -> None:
        while self.line() != wanted:
            pass

    def result(self) -> dict[str, Any]:
        while True:
            text = self.line()
            if text.startswith("{"):
                self.process.wait(WAIT)
                return dict(json.loads(text))

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()[-3000:]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(WAIT)


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        if child.process.poll() is None:
            child.kill()
        for stream in (child.process.stdout, child.process.stderr):
            if stream is not None:
                stream.close()


def executions(log: Path) -> list[tuple[str, int]]:
    if not log.exists():
        return []
    return [(name, int(pid)) for name, pid in (line.split() for line in log.read_text().splitlines())]


def test_kill_9_at_random_moments_then_resume_matches_an_uninterrupted_run(
    tmp_path: Path, children: list[Child]
) -> None:
    reference = wf_programs.big(str(tmp_path / "reference"), None)
    expected = reference.run().outputs
    reference.close()
    rng = random.Random(13)
    for trial in range(20):
        store, log = tmp_path / f"store{trial}", tmp_path / f"log{trial}"
        child = Child("big", str(store), "run", str(log))
        children.append(child)
        child.until("ready")
        for _ in range(rng.randint(1, wf_programs.STEPS - 1)):
            child.line()
        child.kill()
        wf = wf_programs.big(str(store), str(log) + ".resumed")
        committed = {name for name, record in wf.status("run").steps.items() if record.status == "succeeded"}
        result = wf.run(run_id="run")
        wf.close()
        assert result.status == "succeeded" and result.outputs == expected, f"trial {trial}"
        again = {name for name, _ in executions(Path(str(log) + ".resumed"))}
        assert not again & committed, f"trial {trial}: committed steps ran again: {sorted(again & committed)}"
        before = {name for name, _ in executions(log)}
        assert before | again == set(expected), f"trial {trial}"


def test_retry_attempts_survive_a_kill(tmp_path: Path, children: list[Child]) -> None:
    store, log = tmp_path / "store", tmp_path / "log"
    child = Child("retried", str(store), "run", str(log), env={"WF_HANG": "1"})
    children.append(child)
    child.until("attempt 2")
    child.kill()
    wf = wf_programs.retried(str(store), str(log))
    result = wf.run(run_id="run")
    assert result.status == "succeeded" and result.outputs == {"flaky": 4}
    assert result.steps["flaky"].attempts == 4
    attempts = [int(line.split()[1]) for line in log.read_text().splitlines()]
    assert attempts == [1, 2, 3, 4]  # the resumed step went on from attempt 3
    wf.close()


def test_a_run_is_cancelled_from_another_process(tmp_path: Path, children: list[Child]) -> None:
    store = tmp_path / "store"
    child = Child("blocking", str(store), "run")
    children.append(child)
    child.until("started")
    wf = wf_programs.blocking(str(store), None)
    assert wf.status("run").status == "running"
    assert wf.cancel("run") is True
    outcome = child.result()
    assert outcome["status"] == "cancelled"
    assert outcome["outputs"] == {"wait": True}  # the running step saw ctx.cancelled
    assert wf.status("run").steps["after"].status == "pending"
    assert wf.cancel("run") is False  # no longer running
    wf.close()


def test_two_processes_racing_to_resume_one_run_execute_each_step_once(tmp_path: Path, children: list[Child]) -> None:
    store, log, gate = tmp_path / "store", tmp_path / "log", tmp_path / "gate"
    wf = wf_programs.racing(str(store), str(log))
    os.environ["WF_GATE"] = str(gate)
    try:
        first = wf_programs.racing(str(store), str(log))
        assert first.run(run_id="run").status == "failed"
        first.close()
    finally:
        del os.environ["WF_GATE"]
    gate.touch()
    racers = [Child("racing", str(store), "run", str(log), env={"WF_GATE": str(gate)}) for _ in range(2)]
    children.extend(racers)
    outcomes = [racer.result() for racer in racers]
    statuses = sorted(outcome.get("status", "owned") for outcome in outcomes)
    assert statuses in (["owned", "succeeded"], ["succeeded", "succeeded"])
    counts = Counter(name for name, _ in executions(log))
    assert counts == Counter({f"r{i}": 1 for i in range(20)})
    assert wf.status("run").status == "succeeded"
    wf.close()


def test_a_stale_owners_commit_is_discarded_and_counted(tmp_path: Path) -> None:
    wf = Workflow("stale", store=tmp_path / "store")
    inside, release = threading.Event(), threading.Event()

    def slow() -> int:
        inside.set()
        release.wait(WAIT)
        return 1

    wf.add_step("slow", slow)
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(error=_catch(lambda: wf.run(run_id="run"))))
    thread.start()
    assert inside.wait(WAIT)
    # Another incarnation takes the run over, as after a crash of this one.
    from zixir.workflow import lifecycle

    store = wf._open()
    lifecycle.release(store, "stale", "run", 1)
    claim = lifecycle.claim(store, "stale", "run", None, None, wf.validate().shape, rerun=False)
    assert claim.generation == 2
    from zixir._counters import counters

    stale = next(c for c in counters() if c.name == "zixir_workflow_stale_commits")
    before = stale.samples()[0][1]
    release.set()
    thread.join(WAIT)
    assert type(outcome["error"]).__name__ == "RunOwnedError"
    assert stale.samples()[0][1] == before + 1
    assert wf.status("run").steps["slow"].status == "pending"  # the late commit was not applied
    lifecycle.release(store, "stale", "run", 1)
    wf.close()


def _catch(fn: Any) -> BaseException | None:
    try:
        fn()
    except BaseException as exc:
        return exc
    return None
