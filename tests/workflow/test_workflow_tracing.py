"""Every step attempt is a span under its run's span, also in threads with timeouts and
sandbox workers; attempts' durations go to a histogram by workflow and step."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import wf_programs

from zixir import RetryPolicy, tracing
from zixir._counters import histograms
from zixir.workflow import StepContext, Workflow
from zixir.workflow.attempts import DURATION_BUCKETS


@pytest.fixture(autouse=True)
def _fresh_tracing() -> Iterator[None]:
    tracing.clear()
    tracing.set_sample_ratio(1.0)
    yield
    tracing.clear()


def test_a_run_is_a_span_and_each_attempt_a_child_span_into_threads_and_workers(
    make: Callable[..., Workflow],
) -> None:
    wf = make("traced", inputs=("x",))
    wf.add_step("pdouble", wf_programs.traced_double, executor="process", timeout=60.0)

    @wf.step(timeout=30.0)
    def timed(pdouble: int) -> int:
        with tracing.span("inside.timed"):
            return pdouble + 1

    @wf.step(map_over="spread")
    def each(spread: int) -> int:
        return spread

    wf.add_step("spread", lambda timed: [timed, timed + 1])
    with tracing.span("caller") as caller:
        result = wf.run("r1", {"x": 3})
    assert result.outputs["each"] == [7, 8]
    spans = tracing.finished_spans(caller.trace_id)
    by_name = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    (run,) = by_name["workflow.run traced"]
    assert run.parent_id == caller.span_id and run.attributes == {"run_id": "r1", "status": "succeeded"}
    (pdouble,) = by_name["workflow.step pdouble"]
    assert pdouble.parent_id == run.span_id
    assert pdouble.attributes == {"run_id": "r1", "step": "pdouble", "attempt": 1, "status": "succeeded"}
    (inside,) = by_name["inside.double"]
    assert inside.parent_id == pdouble.span_id and inside.attributes == {"x": 3}  # in the worker process
    (timed_span,) = by_name["workflow.step timed"]
    (inner,) = by_name["inside.timed"]
    assert inner.parent_id == timed_span.span_id  # in the thread that runs a step with a timeout
    items = sorted(by_name["workflow.step each"], key=lambda s: s.attributes["item"])
    assert [(s.attributes["item"], s.parent_id) for s in items] == [(0, run.span_id), (1, run.span_id)]


def test_a_failed_attempt_is_an_error_span_and_the_retry_another_span(make: Callable[..., Workflow]) -> None:
    wf = make("flaky")

    @wf.step(retry=RetryPolicy(max_attempts=3, initial_delay=0.0, jitter=0.0))
    def flaky(ctx: StepContext) -> int:
        if ctx.attempt == 1:
            raise ConnectionError("first attempt fails")
        return ctx.attempt

    with tracing.span("caller") as caller:
        assert wf.run("r1").outputs == {"flaky": 2}
    attempts = sorted(
        (s for s in tracing.finished_spans(caller.trace_id) if s.name == "workflow.step flaky"),
        key=lambda s: s.attributes["attempt"],
    )
    assert [(s.attributes["attempt"], s.attributes["status"], s.status) for s in attempts] == [
        (1, "retrying", "error"),
        (2, "succeeded", "ok"),
    ]


def test_attempt_durations_go_to_a_histogram_by_workflow_and_step(make: Callable[..., Workflow]) -> None:
    wf = make("timed_wf")
    wf.add_step("a", lambda: 1)
    wf.add_step("b", lambda a: a + 1)
    (hist,) = [h for h in histograms() if h.name == "zixir_workflow_step_duration_seconds"]
    assert hist.buckets == DURATION_BUCKETS and hist.label_names == ("workflow", "step")
    before = hist.labels("timed_wf", "b").snapshot()[0][-1]
    wf.run("r1")
    wf.run("r2")
    counts, total = hist.labels("timed_wf", "b").snapshot()
    assert counts[-1] == before + 2 and total >= 0.0
