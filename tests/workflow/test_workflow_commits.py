"""Shared commits: trivial steps finishing together share a write transaction, a step's
outcome is committed before any dependent starts, and an outcome left for a shared commit
is committed while its thread runs a long step."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from zixir.workflow import Workflow, runner
from zixir.workflow.outcomes import StepOutcome
from zixir.workflow.runner import Runner


def _count_commits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    """Each commit of step outcomes: the committing thread's name and the steps committed."""
    commits: list[tuple[str, list[str]]] = []
    fill = Runner._fill

    def counting(self: Runner, txn: Any, batch: list[StepOutcome]) -> tuple[bool, bool]:
        commits.append((threading.current_thread().name, [o.planned.spec.name for o in batch]))
        return fill(self, txn, batch)

    monkeypatch.setattr(Runner, "_fill", counting)
    return commits


def test_independent_steps_share_commits(make: Callable[..., Workflow], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "GROUP_WINDOW", 3600.0)  # only the count bounds a shared commit here
    commits = _count_commits(monkeypatch)
    wf = make(max_workers=1)
    for i in range(300):
        wf.add_step(f"s{i}", lambda i=i: i)
    result = wf.run()
    assert result.status == "succeeded" and result.outputs == {f"s{i}": i for i in range(300)}
    sizes = [len(names) for _, names in commits]
    assert sum(sizes) == 300 and max(sizes) <= runner.GROUP_MAX
    assert len(commits) < 10  # 128 + 128 + 44, unless the watcher committed some early
    stored = wf.status(result.run_id)
    assert all(record.status == "succeeded" for record in stored.steps.values())


@pytest.mark.parametrize("workers", [1, 4])
def test_a_step_is_committed_before_any_dependent_starts(
    make: Callable[..., Workflow], monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(runner, "GROUP_WINDOW", 3600.0)  # outcomes wait for a shared commit whenever allowed
    wf = make(max_workers=workers)
    deps: dict[str, list[str]] = {f"leaf{i}": [] for i in range(20)}  # independent steps first, in the queue
    deps.update({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": [f"leaf{i}" for i in range(20)]})
    deps["f"] = ["d", "e"]
    seen: dict[str, set[str]] = {}

    def step(name: str) -> Callable[..., str]:
        def run(ctx: Any) -> str:
            records = wf.status(ctx.run_id).steps
            seen[name] = {dep for dep in deps[name] if records[dep].status == "succeeded"}
            return name

        return run

    for name, before in deps.items():
        wf.add_step(name, step(name), depends_on=before)
    result = wf.run()
    assert result.status == "succeeded"
    assert seen == {name: set(before) for name, before in deps.items()}


def test_an_outcome_left_for_a_shared_commit_is_committed_while_a_long_step_runs(
    make: Callable[..., Workflow], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "GROUP_WINDOW", 3600.0)
    monkeypatch.setattr(runner, "CANCEL_POLL", 0.01)
    commits = _count_commits(monkeypatch)
    quick_committed = threading.Event()
    commit_batch = Runner._commit_batch

    def noting(self: Runner, batch: list[StepOutcome], keep: bool = True) -> object:
        ready = commit_batch(self, batch, keep)
        if any(o.planned.spec.name == "quick" for o in batch):
            quick_committed.set()
        return ready

    monkeypatch.setattr(Runner, "_commit_batch", noting)
    wf = make(max_workers=1)
    wf.add_step("quick", lambda: 1)  # taken first: its thread leaves it for a shared commit, runs "long"
    wf.add_step("long", lambda ctx: quick_committed.wait(30) and wf.status(ctx.run_id).steps["quick"].status)
    result = wf.run()
    assert result.status == "succeeded" and result.outputs["long"] == "succeeded"
    (committer,) = [thread for thread, names in commits if "quick" in names]
    assert committer.endswith("-watch")  # not the worker, which was running "long"
