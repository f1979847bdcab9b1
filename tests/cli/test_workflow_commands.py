"""``zixir workflow``: runs, status, dead letters, cancel and replay on a store made here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import flows
from tests.cli.support import zixir, zixir_json
from zixir.app import App
from zixir.daemon.datadir import DataDir
from zixir.workflow import Workflow


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data dir with workflow etl's runs: r1 succeeded, r2 failed at 'flaky' (a dead letter)."""
    store = App(tmp_path).path("workflows", "etl")
    flows.FAILING["flaky"] = False
    with flows.etl(store) as wf:
        assert wf.run("r1", {"n": 3}).succeeded
        flows.FAILING["flaky"] = True
        assert wf.run("r2", {"n": 4}).status == "failed"
    yield tmp_path
    flows.FAILING["flaky"] = True


def test_runs_lists_the_runs_newest_first_as_a_table_and_as_json(data_dir: Path) -> None:
    table = zixir("workflow", "runs", "etl", "--data-dir", str(data_dir)).stdout.splitlines()
    assert table[0].split() == ["run", "status", "created", "ended", "generation", "owner", "error"]
    assert [line.split()[:2] for line in table[1:]] == [["r2", "failed"], ["r1", "succeeded"]]
    assert "RuntimeError: the API is down" in table[1]
    runs = zixir_json("workflow", "runs", "etl", "--data-dir", str(data_dir))
    assert [(r["run_id"], r["status"], r["generation"]) for r in runs] == [("r2", "failed", 1), ("r1", "succeeded", 1)]
    only = zixir_json("workflow", "runs", "etl", "--status", "succeeded", "--data-dir", str(data_dir))
    assert [r["run_id"] for r in only] == ["r1"]


def test_status_shows_each_step_and_outputs_only_when_asked(data_dir: Path) -> None:
    text = zixir("workflow", "status", "etl", "r2", "--data-dir", str(data_dir)).stdout
    lines = text.splitlines()
    assert lines[0].startswith("workflow etl, run r2: failed (created ")
    assert lines[1].startswith("error: ") and "the API is down" in lines[1]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[3:]}
    assert rows == {
        "load": ["succeeded", "1"], "double": ["succeeded", "1"], "square": ["succeeded", "4"],
        "flaky": ["failed", "1"],
    }  # fmt: skip
    assert "4/4" in next(line for line in lines if line.startswith("square"))
    assert "outputs:" not in text
    status = zixir_json("workflow", "status", "etl", "r1", "--outputs", "--data-dir", str(data_dir))
    assert status["status"] == "succeeded"
    assert status["outputs"] == {"load": [0, 1, 2], "double": {"x": 3, "y": 6}, "square": [0, 1, 4], "flaky": 9}
    assert [item["status"] for item in status["steps"]["square"]["items"]] == ["succeeded"] * 3
    shown = zixir("workflow", "status", "etl", "r1", "--outputs", "--data-dir", str(data_dir)).stdout
    assert "  double = Point(x=3, y=6)" in shown


def test_dead_letters_as_a_table_and_as_json(data_dir: Path) -> None:
    letters = zixir_json("workflow", "dead-letters", "etl", "--data-dir", str(data_dir))
    assert [(d["run_id"], d["step"], d["error_type"], d["message"]) for d in letters] == [
        ("r2", "flaky", "builtins.RuntimeError", "the API is down")
    ]
    table = zixir("workflow", "dead-letters", "etl", "--data-dir", str(data_dir)).stdout.splitlines()
    assert table[0].split()[:3] == ["entry", "run", "step"]
    assert table[1].split()[:3] == [letters[0]["entry_id"], "r2", "flaky"]
    assert table[1].endswith("RuntimeError: the API is down")


def test_replay_runs_the_dead_step_with_the_apps_code_and_finishes_the_run(data_dir: Path) -> None:
    entry = zixir_json("workflow", "dead-letters", "etl", "--data-dir", str(data_dir))[0]["entry_id"]
    flows.FAILING["flaky"] = False
    result = zixir_json(
        "workflow", "replay", "etl", entry, "--app", "tests.cli.flows:workflows", "--data-dir", str(data_dir)
    )
    assert result["status"] == "succeeded" and result["outputs"]["flaky"] == 18
    assert zixir_json("workflow", "dead-letters", "etl", "--data-dir", str(data_dir)) == []
    replayed = zixir_json("workflow", "dead-letters", "etl", "--all", "--data-dir", str(data_dir))
    assert replayed[0]["replayed"] is not None


def test_replay_is_refused_while_a_daemon_holds_the_data_dir_and_cancel_is_not(data_dir: Path) -> None:
    entry = zixir_json("workflow", "dead-letters", "etl", "--data-dir", str(data_dir))[0]["entry_id"]
    held = DataDir(data_dir)
    try:
        held.write_info({"pid": 4242})
        refused = zixir("workflow", "replay", "etl", entry, "--app", "tests.cli.flows", "--data-dir", str(data_dir),
                        code=4)  # fmt: skip
        assert refused.stderr == (
            f"zixir: error: data dir {data_dir.resolve()} is in use by the daemon with pid 4242: stop it before a "
            "replay (replay resumes the run in this process)\n"
        )
        answer = zixir_json("workflow", "cancel", "etl", "r2", "--data-dir", str(data_dir))
        assert answer == {"workflow": "etl", "run_id": "r2", "cancel_requested": False, "status": "failed"}
    finally:
        held.release()


def test_cancel_writes_a_request_that_the_running_owner_obeys(data_dir: Path) -> None:
    store = App(data_dir).path("workflows", "etl")
    started, release = threading.Event(), threading.Event()
    wf = Workflow("etl", store=store)

    @wf.step()
    def wait(ctx: object) -> int:
        started.set()
        release.wait(20)
        return 1

    @wf.step()
    def after(wait: int) -> int:
        return wait

    outcome: list[object] = []
    runner = threading.Thread(target=lambda: outcome.append(wf.run("long")))
    runner.start()
    try:
        assert started.wait(20)
        assert zixir("workflow", "cancel", "etl", "long", "--data-dir", str(data_dir)).stdout == (
            "asked run long of workflow etl to stop; it ends as cancelled\n"
        )
    finally:
        release.set()
        runner.join(20)
        wf.close()
    assert outcome[0].status == "cancelled"  # type: ignore[attr-defined]
    again = zixir("workflow", "cancel", "etl", "long", "--data-dir", str(data_dir)).stdout
    assert again == "run long of workflow etl is not running (cancelled): nothing to cancel\n"


def test_mistakes_are_one_line_with_the_fix(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    missing = zixir("workflow", "runs", "nope", "--data-dir", str(data_dir), code=2).stderr
    assert missing == (
        f"zixir: error: no workflow store at {data_dir.resolve()}/workflows/nope: check the workflow's name and "
        f"--data-dir, or give its --store; {data_dir.resolve()}/workflows has: etl\n"
    )
    nowhere = tmp_path_factory.mktemp("x") / "absent"
    assert zixir("workflow", "runs", "etl", "--data-dir", str(nowhere), code=2).stderr == (
        f"zixir: error: no data dir at {nowhere}: give the daemon's --data-dir (or set ZIXIR_DATA_DIR)\n"
    )
    unknown = zixir("workflow", "status", "etl", "r9", "--data-dir", str(data_dir), code=2).stderr
    assert unknown == "zixir: error: workflow 'etl' has no run 'r9' (never started, or pruned)\n"
    no_app = zixir("workflow", "replay", "etl", "x", "--app", "tests.cli.flows:nothing", "--data-dir",
                   str(data_dir), code=2).stderr  # fmt: skip
    assert no_app == (
        "zixir: error: --app tests.cli.flows:nothing: module 'tests.cli.flows' has no attribute 'nothing'\n"
    )


def test_nothing_is_unpickled_without_allow_pickle(tmp_path: Path) -> None:
    with flows.pickled(App(tmp_path).path("workflows", "pickled")) as wf:
        assert wf.run("p1").succeeded
    refused = zixir("workflow", "status", "pickled", "p1", "--outputs", "--data-dir", str(tmp_path), code=2)
    assert refused.stderr == (
        "zixir: error: the output of step 'make' in run 'p1' was stored by pickle: pass --allow-pickle if you "
        "trust the store\n"
    )
    assert zixir("workflow", "status", "pickled", "p1", "--data-dir", str(tmp_path)).stdout.count("succeeded") == 2
    shown = zixir("workflow", "status", "pickled", "p1", "--outputs", "--allow-pickle", "--data-dir", str(tmp_path))
    assert "  make = Opaque(7)" in shown.stdout
