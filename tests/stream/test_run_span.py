"""A pipeline run is one ``stream.run`` span with its outcome and per-stage counts; work
the run does in threads, tasks and sandbox workers continues its trace."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.tracing import tracing_targets
from zixir import Sandbox, Stream, tracing
from zixir.tracing import Span


@pytest.fixture(autouse=True)
def _fresh_tracing() -> Iterator[None]:
    tracing.clear()
    tracing.set_sample_ratio(1.0)
    yield
    tracing.clear()


def _spans(root: Span) -> dict[str, list[Span]]:
    found: dict[str, list[Span]] = {}
    for span in tracing.finished_spans(root.trace_id):
        found.setdefault(span.name, []).append(span)
    return found


def _seen_in(seen: list[tuple[str, str] | None]) -> set[tuple[str, str] | None]:
    return set(seen)


def where() -> tuple[str, str] | None:
    span = tracing.current_span()
    return None if span is None else (span.name, span.trace_id)


def test_a_sink_run_is_one_span_under_the_caller_with_outcome_and_stage_counts() -> None:
    with tracing.span("job") as root:
        assert Stream.range(10).map(lambda x: x, name="copy").filter(lambda x: x % 2, name="odd").count() == 5
    (run,) = _spans(root)["stream.run"]
    assert run.parent_id == root.span_id and run.status == "ok"
    assert run.attributes == {
        "outcome": "completed",
        "stage.source.in": 10,
        "stage.source.out": 10,
        "stage.copy.in": 10,
        "stage.copy.out": 10,
        "stage.odd.in": 10,
        "stage.odd.out": 5,
    }


def test_a_failed_run_is_an_error_span_and_a_broken_loop_a_cancelled_one() -> None:
    def boom(x: int) -> int:
        raise ValueError(f"no {x}")

    with tracing.span("job") as root:
        with pytest.raises(ValueError, match="no 0"):
            Stream.range(3).map(boom).to_list()
        for item in Stream.range(100).map(lambda x: x):
            if item == 2:
                break
    failed, cancelled = sorted(_spans(root)["stream.run"], key=lambda s: s.start)
    assert (failed.status, failed.error_type, failed.error_message) == ("error", "ValueError", "no 0")
    assert failed.attributes["outcome"] == "failed" and failed.attributes["stage.map.errors"] == 1
    assert cancelled.status == "ok" and cancelled.attributes["outcome"] == "cancelled"
    assert cancelled.attributes["stage.map.out"] == 3


def test_the_run_span_is_current_in_stage_functions_threads_and_tasks_but_not_the_loop_body() -> None:
    inline: list[tuple[str, str] | None] = []
    threaded: list[tuple[str, str] | None] = []
    body: list[tuple[str, str] | None] = []
    with tracing.span("job") as root:
        stream = (
            Stream.range(6)
            .map(lambda x: inline.append(where()) or x)
            .buffer(2)
            .parallel_map(lambda x: threaded.append(where()) or x, workers=3)
        )
        for _ in stream:
            body.append(where())
    expected = {("stream.run", root.trace_id)}
    assert _seen_in(inline) == expected and _seen_in(threaded) == expected
    assert _seen_in(body) == {("job", root.trace_id)}


def test_async_runs_are_spans_too_and_their_tasks_and_threads_continue_the_trace() -> None:
    seen: list[tuple[str, str] | None] = []

    async def lookup(x: int) -> int:
        seen.append(where())
        await asyncio.sleep(0)
        return x

    async def main() -> tuple[Span, list[int]]:
        with tracing.span("job") as root:
            stream = (
                Stream.range(8)
                .amap(lookup, concurrency=3)
                .map(lambda x: seen.append(where()) or x, blocking=True)
                .parallel_map(lambda x: seen.append(where()) or x, workers=2)
            )
            got = await stream.ato_list()
        return root, got

    root, got = asyncio.run(main())
    assert got == list(range(8))
    assert len(seen) == 24 and _seen_in(seen) == {("stream.run", root.trace_id)}
    (run,) = _spans(root)["stream.run"]
    assert run.attributes["outcome"] == "completed" and run.attributes["stage.parallel_map.out"] == 8


def test_items_run_in_a_sandbox_continue_the_run_trace_in_the_worker() -> None:
    with Sandbox(timeout=30.0, workers=2) as sandbox, tracing.span("job") as root:
        got = Stream([1, 2]).parallel_map(tracing_targets.traced_work, workers=2, executor=sandbox).to_list()
    assert got == [2, 4]
    spans = _spans(root)
    (run,) = spans["stream.run"]
    workers = spans["worker.compute"]
    assert len(workers) == 2 and {w.parent_id for w in workers} == {run.span_id}
