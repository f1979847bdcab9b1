"""WorkflowActor: runs without blocking its mailbox, resumes its runs after a crash (an
exception told to it, and kill -9 of the process hosting its tree)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wf_programs
from test_workflow_processes import Child, children, executions  # noqa: F401  (children: a fixture)

from zixir import ChildSpec, Supervisor, WorkflowActor, whereis
from zixir.errors import InvalidArgumentError, TooManyRunsError
from zixir.observability import events
from zixir.workflow import StepContext, Workflow

WAIT = 30.0


class Explosive(WorkflowActor):
    """A WorkflowActor that a told call crashes."""

    def explode(self) -> None:
        raise RuntimeError("boom")


def test_the_actor_answers_while_a_run_is_in_flight_and_cancels_it(make: Callable[..., Workflow]) -> None:
    wf = make("slow", inputs=("n",))
    inside = threading.Event()

    @wf.step()
    def wait(n: int, ctx: StepContext) -> int:
        inside.set()
        ctx.cancelled.wait(WAIT)
        return n

    wf.add_step("after", lambda wait: wait + 1)
    ref = WorkflowActor.start(workflows=[wf])
    host = ref.proxy()
    handle = host.run("slow", "r1", {"n": 1}).get(timeout=WAIT)
    assert inside.wait(WAIT)
    assert [h.run_id for h in host.active().get(timeout=WAIT)] == ["r1"]
    assert host.status("slow", "r1").get(timeout=WAIT).status == "running"
    assert [info.run_id for info in host.runs("slow").get(timeout=WAIT)] == ["r1"]
    assert host.handle("slow", "r1").get(timeout=WAIT) is handle
    assert host.cancel("slow", "r1").get(timeout=WAIT) is True
    result = handle.result(WAIT)
    assert result.status == "cancelled" and "after" not in result.outputs
    assert host.active().get(timeout=WAIT) == []
    ref.stop()


def test_a_bad_request_fails_to_the_asker_and_the_actor_lives_on(make: Callable[..., Workflow]) -> None:
    wf = make("one", inputs=("n",))
    wf.add_step("double", lambda n: n * 2)
    ref = WorkflowActor.start(workflows=[wf], max_runs=1)
    host = ref.proxy()
    with pytest.raises(InvalidArgumentError, match=r"^WorkflowActor hosts no workflow 'two'; it hosts \['one'\]$"):
        host.run("two").get(timeout=WAIT)
    with pytest.raises(InvalidArgumentError, match=r"needs its inputs"):
        host.run("one", "r1").get(timeout=WAIT)
    assert host.run("one", "r1", {"n": 4}).get(timeout=WAIT).result(WAIT).outputs == {"double": 8}
    ref.stop()


def test_runs_beyond_max_runs_are_refused(make: Callable[..., Workflow]) -> None:
    wf = make("gate")
    gate = threading.Event()
    wf.add_step("hold", lambda: gate.wait(WAIT))
    ref = WorkflowActor.start(workflows=[wf], max_runs=1)
    host = ref.proxy()
    first = host.run("gate", "r1").get(timeout=WAIT)
    with pytest.raises(TooManyRunsError, match=r"max_runs=1"):
        host.run("gate", "r2").get(timeout=WAIT)
    gate.set()
    assert first.result(WAIT).status == "succeeded"
    ref.stop()


def test_two_workflows_of_one_name_are_refused(make: Callable[..., Workflow]) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^workflows holds two workflows named 'x'$"):
        WorkflowActor(workflows=[make("x"), make("x")])


def test_a_crash_told_to_the_actor_resumes_its_run_in_the_restart(make: Callable[..., Workflow]) -> None:
    wf = make("crashy")
    runs: Counter[str] = Counter()
    inside, stopped, proceed = threading.Event(), threading.Event(), threading.Event()

    @wf.step()
    def first() -> int:
        runs["first"] += 1
        return 1

    @wf.step()
    def second(first: int, ctx: StepContext) -> int:
        runs["second"] += 1
        if runs["second"] == 1:
            inside.set()
            assert ctx.cancelled.wait(WAIT)  # the crash abandons the run: this attempt counts for nothing
            stopped.set()
            return -1
        assert proceed.wait(WAIT)  # the resumed attempt: held until the test has its handle
        return first + 1

    root = Supervisor.start(children=[ChildSpec("host", Explosive, kwargs={"workflows": [wf]})])
    old = whereis("host")
    handle = old.proxy().run("crashy", "r1").get(timeout=WAIT)
    assert inside.wait(WAIT)
    old.proxy().explode.defer()
    assert old.wait_exit(WAIT) is not None
    root.proxy().settled().get(timeout=WAIT)
    with pytest.raises(Exception, match="exited"):
        handle.result(WAIT)  # the first incarnation's handle ends with it
    assert stopped.is_set()
    resumed = whereis("host").proxy().handle("crashy", "r1").get(timeout=WAIT)
    assert resumed is not None
    proceed.set()
    result = resumed.result(WAIT)
    assert result.status == "succeeded" and result.outputs == {"first": 1, "second": 2}
    assert runs == Counter({"first": 1, "second": 2})  # the committed step did not run again
    assert wf.runs()[0].generation == 2
    root.stop()


def test_a_tree_killed_with_sigkill_is_resumed_by_the_next_process_tree(
    tmp_path: Path,
    children: list[Child],  # noqa: F811
) -> None:
    reference = wf_programs.big(str(tmp_path / "reference"), None)
    expected = reference.run().outputs
    reference.close()
    rng = random.Random(7)
    for trial in range(3):
        store, log = tmp_path / f"store{trial}", tmp_path / f"log{trial}"
        child = Child("tree", "start", "big", str(store), "run", str(log))
        children.append(child)
        child.until("ready")
        for _ in range(rng.randint(1, wf_programs.STEPS - 1)):
            child.line()
        child.kill()
        wf = wf_programs.big(str(store), None)
        committed = {name for name, record in wf.status("run").steps.items() if record.status == "succeeded"}
        wf.close()
        resumer = Child("tree", "resume", "big", str(store), "run", str(log) + ".resumed")
        children.append(resumer)
        outcome = resumer.result()
        assert outcome["status"] == "succeeded" and outcome["outputs"] == expected, f"trial {trial}"
        again = {name for name, _ in executions(Path(str(log) + ".resumed"))}
        assert not again & committed, f"trial {trial}: committed steps ran again: {sorted(again & committed)}"
        assert {name for name, _ in executions(log)} | again == set(expected), f"trial {trial}"


def test_many_runs_through_the_actor_leave_nothing_behind(make: Callable[..., Workflow]) -> None:
    from zixir.workflow import lifecycle

    wf = make("churn", inputs=("n",))
    wf.add_step("double", lambda n: n * 2)
    ref = WorkflowActor.start(workflows=[wf], max_runs=4)
    host = ref.proxy()
    for batch in range(10):
        handles = [host.run("churn", f"r{batch}-{i}", {"n": i}).get(timeout=WAIT) for i in range(4)]
        assert [h.result(WAIT).outputs["double"] for h in handles] == [0, 2, 4, 6]
    assert host.active().get(timeout=WAIT) == []  # asked after every run's end was told
    assert not [mark for mark in lifecycle._active if mark[1] == "churn"]
    assert len(wf.runs(limit=100)) == 40 and wf.orphaned_runs() == []
    ref.stop()


def test_the_actor_resumes_runs_left_unfinished_and_skips_ones_it_cannot(
    make: Callable[..., Workflow], records: list[dict[str, Any]]
) -> None:
    old = make("evolving")
    old.add_step("a", lambda: 1)
    old.begin("old-shape").abandon("as if its process had died")
    wf = make("evolving")
    wf.add_step("a", lambda: 1)
    wf.add_step("b", lambda a: a + 1)
    wf.begin("same-shape").abandon("as if its process had died")
    assert wf.orphaned_runs() == ["old-shape", "same-shape"]
    ref = WorkflowActor.start(workflows=[wf])
    assert ref.proxy().workflows().get(timeout=WAIT) == ["evolving"]  # it started
    assert wf.status("same-shape").status in ("running", "succeeded")
    handle = ref.proxy().handle("evolving", "same-shape").get(timeout=WAIT)
    result = wf.status("same-shape") if handle is None else handle.result(WAIT)
    assert result.outputs == {"a": 1, "b": 2}
    (skipped,) = [r["extra"] for r in records if r["extra"].get("event") == events.WORKFLOW_RUN_NOT_RESUMED]
    assert (skipped["run_id"], skipped["error_type"]) == ("old-shape", "RunMismatchError")
    ref.stop()
