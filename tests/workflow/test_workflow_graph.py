"""The executor's ordering and parallelism: every step after all its dependencies, once;
independent steps really at the same time; fan-out items with their own failures."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from zixir import RetryPolicy
from zixir.workflow import Workflow


@st.composite
def dags(draw: st.DrawFn) -> list[list[int]]:
    """Each step's dependencies: any earlier steps (so the graph is acyclic)."""
    size = draw(st.integers(1, 14))
    return [sorted(draw(st.sets(st.integers(0, i - 1), max_size=4)) if i else []) for i in range(size)]


@settings(max_examples=60, deadline=None)
@given(deps=dags(), workers=st.integers(1, 4), shuffled=st.randoms(use_true_random=False))
def test_every_step_runs_once_after_all_its_dependencies(deps: list[list[int]], workers: int, shuffled: object) -> None:
    order: list[int] = []
    lock = threading.Lock()
    names = [f"s{i}" for i in range(len(deps))]
    adding = list(range(len(deps)))
    shuffled.shuffle(adding)  # type: ignore[attr-defined]  # definition order is not run order
    with tempfile.TemporaryDirectory() as store:
        wf = Workflow("dag", store=store, max_workers=workers)
        for i in adding:

            def step(i: int = i) -> int:
                with lock:
                    done = set(order)
                    assert set(deps[i]) <= done, f"s{i} started before {set(deps[i]) - done}"
                    order.append(i)
                return i

            wf.add_step(names[i], step, depends_on=[names[d] for d in deps[i]])
        result = wf.run()
        wf.close()
    assert result.status == "succeeded"
    assert sorted(order) == list(range(len(deps)))
    assert result.outputs == {name: i for i, name in enumerate(names)}


def test_independent_steps_run_in_parallel(make: Callable[..., Workflow]) -> None:
    wf = make(max_workers=3)
    barrier = threading.Barrier(3, timeout=30)  # only three steps at once can pass it
    for name in ("x", "y", "z"):
        wf.add_step(name, lambda: barrier.wait())
    wf.add_step("joined", lambda x, y, z: sorted((x, y, z)))
    result = wf.run()
    assert result.status == "succeeded" and result.outputs["joined"] == [0, 1, 2]


def test_a_chain_runs_on_the_thread_that_finished_its_dependency(make: Callable[..., Workflow]) -> None:
    wf = make(max_workers=4)
    threads: list[int] = []
    wf.add_step("s0", lambda: threads.append(threading.get_ident()))
    for i in range(1, 30):
        wf.add_step(f"s{i}", lambda: threads.append(threading.get_ident()), depends_on=f"s{i - 1}")
    assert wf.run().status == "succeeded"
    assert len(set(threads)) == 1


def test_fan_out_runs_each_item_and_one_failing_item_fails_only_itself(make: Callable[..., Workflow]) -> None:
    wf = make(max_workers=4)
    calls: list[int] = []
    broken = {3}

    def square(items: int) -> int:
        calls.append(items)
        if items in broken:
            raise ValueError(f"item {items} is bad")
        return items * items

    wf.add_step("items", lambda: [1, 2, 3, 4])
    wf.add_step("square", square, map_over="items", retry=RetryPolicy(max_attempts=2, initial_delay=0.0))
    wf.add_step("total", lambda square: sum(square))
    first = wf.run(run_id="r")
    assert first.status == "failed"
    record = first.steps["square"]
    assert record.status == "failed"
    [letter] = wf.dead_letters()
    assert (letter.step, letter.item, letter.attempts) == ("square", 2, 2)
    assert calls.count(3) == 2
    broken.clear()
    calls.clear()
    second = wf.replay(letter.entry_id)
    assert second.status == "succeeded" and second.outputs["square"] == [1, 4, 9, 16]
    assert second.outputs["total"] == 30
    assert calls == [3]  # the other items' checkpoints were loaded
    assert [item.status for item in second.steps["square"].items] == ["succeeded"] * 4


def test_fan_out_with_on_error_continue_puts_the_fallback_in_place(make: Callable[..., Workflow]) -> None:
    wf = make()

    def invert(values: float) -> float:
        return 1 / values

    wf.add_step("values", lambda: [1.0, 0.0, 4.0])
    wf.add_step("invert", invert, map_over="values", on_error="continue", fallback=float("inf"))
    result = wf.run()
    assert result.status == "succeeded"
    assert result.outputs["invert"] == [1.0, float("inf"), 0.25]
    assert result.steps["invert"].status == "failed_continued"
    assert [letter.item for letter in wf.dead_letters()] == [1]


def test_fan_out_over_nothing_gives_an_empty_list(make: Callable[..., Workflow]) -> None:
    wf = make()
    wf.add_step("none", lambda: [])
    wf.add_step("each", lambda none: none, map_over="none")
    assert wf.run().outputs == {"none": [], "each": []}
