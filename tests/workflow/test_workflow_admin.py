"""Runs, status, cancel and prune; dead letters listed, replayed, discarded."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from zixir.errors import CheckpointMissingError, UnknownDeadLetterError, UnknownRunError
from zixir.workflow import StepContext, Workflow


def failing(make: Callable[..., Workflow], broken: set[str]) -> Workflow:
    wf = make()

    def fetch(seed: int) -> int:
        if "fetch" in broken:
            raise ConnectionError("no route")
        return 5

    wf.add_step("seed", lambda: 2)
    wf.add_step("fetch", fetch)
    wf.add_step("use", lambda seed, fetch: seed * fetch)
    return wf


def test_a_dead_letter_is_replayed_in_its_run_and_marked(make: Callable[..., Workflow]) -> None:
    broken = {"fetch"}
    wf = failing(make, broken)
    assert wf.run(run_id="r").status == "failed"
    [letter] = wf.dead_letters()
    assert (letter.workflow, letter.run_id, letter.step, letter.item) == ("wf", "r", "fetch", None)
    assert letter.error_type == "builtins.ConnectionError" and letter.message == "no route"
    assert letter.inputs == ("seed",)
    broken.clear()
    result = wf.replay(letter.entry_id)
    assert result.run_id == "r" and result.status == "succeeded" and result.outputs["use"] == 10
    assert wf.dead_letters() == []
    [kept] = wf.dead_letters(include_replayed=True)
    assert kept.entry_id == letter.entry_id and kept.replayed is not None


def test_dead_letters_are_filtered_discarded_and_unknown_ids_named(make: Callable[..., Workflow]) -> None:
    wf = failing(make, {"fetch"})
    for run_id in ("a", "b", "c"):
        wf.run(run_id=run_id)
    letters = wf.dead_letters()
    assert [letter.run_id for letter in letters] == ["c", "b", "a"]
    assert len(wf.dead_letters(limit=2)) == 2
    assert wf.dead_letters(since=letters[0].time) == letters[:1]
    wf.discard(letters[0].entry_id)
    assert [letter.run_id for letter in wf.dead_letters()] == ["b", "a"]
    with pytest.raises(UnknownDeadLetterError, match=r"^workflow 'wf' has no dead letter 'nope'"):
        wf.discard("nope")
    with pytest.raises(UnknownDeadLetterError):
        wf.replay(letters[0].entry_id)


def test_prune_keeps_the_newest_runs_and_drops_the_rest_with_their_dead_letters(
    make: Callable[..., Workflow],
) -> None:
    wf = failing(make, {"fetch"})
    for run_id in ("r1", "r2", "r3", "r4"):
        wf.run(run_id=run_id)
    assert wf.prune(keep_last=2) == 2
    assert [info.run_id for info in wf.runs()] == ["r4", "r3"]
    assert {letter.run_id for letter in wf.dead_letters()} == {"r3", "r4"}
    with pytest.raises(UnknownRunError, match=r"^workflow 'wf' has no run 'r1' \(never started, or pruned\)$"):
        wf.status("r1")


def test_a_replay_whose_checkpoints_were_removed_is_a_clear_error(make: Callable[..., Workflow]) -> None:
    wf = failing(make, {"fetch"})
    wf.run(run_id="r")
    [letter] = wf.dead_letters()
    store = wf._open()
    store.write(lambda txn: txn.delete(store.step_key("wf", "r", "seed"), db=store.steps))
    with pytest.raises(
        CheckpointMissingError, match=r"^dead letter '.*' cannot be replayed: the checkpoint of step 'seed'"
    ):
        wf.replay(letter.entry_id)


def test_runs_lists_by_status_and_cancel_stops_a_run_in_this_process(make: Callable[..., Workflow]) -> None:
    wf = make(max_workers=2)
    started = threading.Event()

    def wait(ctx: StepContext) -> bool:
        started.set()
        return ctx.cancelled.wait(30)

    wf.add_step("wait", wait)
    wf.add_step("after", lambda wait: 1)
    outcome: list[str] = []
    runner = threading.Thread(target=lambda: outcome.append(wf.run(run_id="r").status))
    runner.start()
    assert started.wait(30)
    assert [info.run_id for info in wf.runs(status="running")] == ["r"]
    assert wf.cancel("r") is True
    runner.join(30)
    assert outcome == ["cancelled"]
    assert wf.runs(status="cancelled")[0].run_id == "r"
    with pytest.raises(UnknownRunError):
        wf.cancel("nope")


def test_progress_shows_a_bar_on_stderr(make: Callable[..., Workflow], capsys: pytest.CaptureFixture[str]) -> None:
    wf = make()
    wf.add_step("a", lambda: 1)
    wf.add_step("b", lambda a: a)
    wf.run(run_id="shown", progress=True)
    assert "wf shown: 100%" in capsys.readouterr().err
