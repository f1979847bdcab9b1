"""Running and resuming: committed steps are never run again, a succeeded run is returned
as recorded, inputs and shape are checked, skips, fallbacks, checkpoints and the cache."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

from zixir import RetryPolicy
from zixir.errors import RunMismatchError, SerializationError
from zixir.workflow import Workflow


def counting(wf: Workflow, calls: Counter[str], fail: set[str]) -> None:
    """a -> b -> c, each counting its calls; a step in `fail` raises."""

    wf.add_step("a", lambda: (calls.update("a"), 1)[1])
    wf.add_step("b", lambda a: (calls.update("b"), _maybe_fail("b", fail), a + 1)[2])
    wf.add_step("c", lambda b: (calls.update("c"), _maybe_fail("c", fail), b + 1)[2])


def _maybe_fail(name: str, fail: set[str]) -> None:
    if name in fail:
        raise RuntimeError(f"{name} broke")


def test_a_failed_run_resumes_without_running_committed_steps(make: Callable[..., Workflow]) -> None:
    wf = make()
    calls: Counter[str] = Counter()
    fail = {"b"}
    counting(wf, calls, fail)
    first = wf.run(run_id="r")
    assert first.status == "failed" and first.outputs == {"a": 1}
    assert first.steps["b"].status == "failed" and "RuntimeError: b broke" in (first.steps["b"].traceback or "")
    assert first.steps["c"].status == "pending"
    assert first.error == "step 'b' failed: RuntimeError: b broke"
    fail.clear()
    second = wf.run(run_id="r")
    assert second.status == "succeeded" and second.outputs == {"a": 1, "b": 2, "c": 3}
    assert calls == Counter({"a": 1, "b": 2, "c": 1})


def test_a_succeeded_run_is_returned_as_recorded_unless_rerun(make: Callable[..., Workflow]) -> None:
    wf = make()
    calls: Counter[str] = Counter()
    counting(wf, calls, set())
    first = wf.run(run_id="r")
    again = wf.run(run_id="r")
    assert again.outputs == first.outputs and again.status == "succeeded"
    assert calls == Counter("abc")
    wf.run(run_id="r", rerun=True)
    assert calls == Counter("abcabc")


def test_generated_run_ids_sort_by_time(make: Callable[..., Workflow]) -> None:
    wf = make()
    wf.add_step("a", lambda: 1)
    ids = [wf.run().run_id for _ in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [info.run_id for info in wf.runs()] == ids[::-1]


def test_resuming_with_other_inputs_or_another_shape_is_an_error(make: Callable[..., Workflow]) -> None:
    wf = make(inputs=("n",))
    fail = threading.Event()
    fail.set()

    def first(n: int) -> int:
        if fail.is_set():
            raise ValueError("not yet")
        return n

    wf.add_step("first", first)
    assert wf.run(run_id="r", inputs={"n": 1}).status == "failed"
    with pytest.raises(RunMismatchError, match=r"^run 'r' of workflow 'wf' was started with other inputs"):
        wf.run(run_id="r", inputs={"n": 2})
    other = make(inputs=("n",))
    other.add_step("first", first)
    other.add_step("second", lambda first: first)
    with pytest.raises(RunMismatchError, match=r"^run 'r' of workflow 'wf' was started with other steps or edges"):
        other.run(run_id="r", inputs={"n": 1})
    fail.clear()
    assert wf.run(run_id="r").outputs == {"first": 1}  # omitted inputs: the run's own


def test_a_false_condition_skips_the_step_and_its_dependents_unless_they_opt_in(
    make: Callable[..., Workflow],
) -> None:
    wf = make()
    wf.add_step("n", lambda: 0)
    wf.add_step("positive", lambda n: n, condition=lambda n: n > 0)
    wf.add_step("after", lambda positive: positive)
    wf.add_step("tolerant", lambda positive: f"got {positive}", allow_skipped=True)
    result = wf.run()
    assert result.status == "succeeded"
    assert {name: r.status for name, r in result.steps.items()} == {
        "n": "succeeded", "positive": "skipped", "after": "skipped", "tolerant": "succeeded",
    }  # fmt: skip
    assert result.outputs == {"n": 0, "tolerant": "got None"}


def test_on_error_continue_uses_the_fallback_and_writes_a_dead_letter(make: Callable[..., Workflow]) -> None:
    wf = make()

    def broken() -> int:
        raise KeyError("gone")

    wf.add_step("broken", broken, on_error="continue", fallback=-1)
    wf.add_step("after", lambda broken: broken * 2)
    result = wf.run(run_id="r")
    assert result.status == "succeeded" and result.outputs == {"broken": -1, "after": -2}
    assert result.steps["broken"].status == "failed_continued"
    [letter] = wf.dead_letters()
    assert (letter.run_id, letter.step, letter.error_type, letter.attempts) == ("r", "broken", "builtins.KeyError", 1)
    assert "KeyError: 'gone'" in letter.traceback


def test_a_step_without_checkpoint_is_recomputed_on_resume(make: Callable[..., Workflow]) -> None:
    wf = make()
    calls: Counter[str] = Counter()
    fail = threading.Event()
    fail.set()
    wf.add_step("volatile", lambda: calls.update(["volatile"]) or 5, checkpoint=False)

    def then(volatile: int) -> int:
        if fail.is_set():
            raise RuntimeError("later")
        return volatile + 1

    wf.add_step("then", then)
    assert wf.run(run_id="r").status == "failed"
    fail.clear()
    assert wf.run(run_id="r").outputs == {"volatile": 5, "then": 6}
    assert calls["volatile"] == 2


def test_cache_ttl_reuses_an_earlier_runs_output_for_the_same_arguments(make: Callable[..., Workflow]) -> None:
    wf = make(inputs=("x",))
    calls: Counter[int] = Counter()

    def square(x: int) -> int:
        calls[x] += 1
        return x * x

    wf.add_step("square", square, cache_ttl=3600)
    assert wf.run(inputs={"x": 3}).outputs == {"square": 9}
    second = wf.run(inputs={"x": 3})
    assert second.outputs == {"square": 9} and second.steps["square"].cached
    assert wf.run(inputs={"x": 4}).outputs == {"square": 16}
    assert calls == Counter({3: 1, 4: 1})


def test_an_output_that_cannot_be_stored_names_the_step_and_the_fix(make: Callable[..., Workflow]) -> None:
    wf = make()
    wf.add_step("lock", lambda: threading.Lock())
    result = wf.run()
    assert result.status == "failed"
    error = result.steps["lock"].error or ""
    assert error.startswith("SerializationError: step 'lock' returned a lock that cannot be stored")
    assert error.endswith("or pass allow_pickle=True to the Workflow")


def test_an_unstorable_input_is_refused_before_the_run_starts(make: Callable[..., Workflow]) -> None:
    wf = make(inputs=("x",))
    wf.add_step("a", lambda x: 1)
    with pytest.raises(SerializationError, match=r"^input 'x' of workflow 'wf' cannot be stored"):
        wf.run(inputs={"x": threading.Lock()})
    assert wf.runs() == []


def test_retries_record_every_attempt_and_the_wait_holds_no_worker(make: Callable[..., Workflow]) -> None:
    wf = make(max_workers=1)
    other_ran = threading.Event()
    attempts: list[int] = []

    def flaky(ctx: object) -> str:
        attempts.append(ctx.attempt)  # type: ignore[attr-defined]
        if len(attempts) == 1:
            return_wait = other_ran.wait(0)  # the first attempt runs before the other step
            assert not return_wait
            raise TimeoutError("slow upstream")
        assert other_ran.is_set()  # the other step ran during the backoff, on the only worker
        return "ok"

    wf.add_step("flaky", flaky, retry=RetryPolicy(max_attempts=3, initial_delay=0.2, jitter=0.0))
    wf.add_step("other", lambda: other_ran.set(), depends_on=())
    result = wf.run()
    assert result.status == "succeeded" and attempts == [1, 2]
    assert result.steps["flaky"].attempts == 2


def test_attempts_that_run_out_fail_the_step_with_a_dead_letter(make: Callable[..., Workflow]) -> None:
    wf = make()

    def never() -> None:
        raise ConnectionError("down")

    wf.add_step("never", never, retry=RetryPolicy(max_attempts=3, initial_delay=0.0, jitter=0.0))
    result = wf.run(run_id="r")
    assert result.status == "failed" and result.steps["never"].attempts == 3
    [letter] = wf.dead_letters()
    assert letter.attempts == 3 and letter.message == "down"
