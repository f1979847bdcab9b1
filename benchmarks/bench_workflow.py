"""Workflow runs with a checkpoint per step, against dask's threaded scheduler (which
saves nothing) and Prefect's local flow (the ``peers`` extra, installed by ``make bench``).

Each repetition defines the workflow and runs it as a new run in the same store (default
durability: every step committed to LMDB before its dependents start); the dask graph is
built and computed the way a dask user writes it (`dask.delayed`, `compute(scheduler="threads")`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from benchmarks.harness import Comparison, compare, progress
from zixir.workflow import Workflow

STEPS = 1000
PREFECT_STEPS = 100


def _one() -> int:
    return 1


def _trivial(*_: Any) -> int:
    return 1


def _zixir_chain(store: str, steps: int) -> Callable[[], object]:
    readers = [_reader(f"s{i}") for i in range(steps)]

    def run() -> object:
        wf = Workflow("chain", store=store, max_workers=4)
        wf.add_step("s0", _one)
        for i in range(1, steps):  # each step reads the previous one's output, by parameter name
            wf.add_step(f"s{i}", readers[i - 1])
        result = wf.run()
        wf.close()
        assert result.status == "succeeded"
        return result

    return run


def _reader(previous: str) -> Callable[..., int]:
    scope: dict[str, Any] = {}
    exec(f"def step({previous}):\n    return 1\n", scope)
    return scope["step"]  # type: ignore[no-any-return]


def _zixir_independent(store: str) -> Callable[[], object]:
    def run() -> object:
        wf = Workflow("flat", store=store, max_workers=4)
        for i in range(STEPS):
            wf.add_step(f"s{i}", _one)
        result = wf.run()
        wf.close()
        assert result.status == "succeeded"
        return result

    return run


def _dask_chain() -> object:
    from dask import delayed

    x = delayed(_trivial)()
    for _ in range(STEPS - 1):
        x = delayed(_trivial)(x)
    return x.compute(scheduler="threads")


def _dask_independent() -> object:
    import dask
    from dask import delayed

    return dask.compute(*[delayed(_trivial)() for _ in range(STEPS)], scheduler="threads")


def _prefect_chain() -> Callable[[], object] | None:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # offline: no telemetry
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        from prefect import flow, task
    except ImportError as exc:
        progress(f"prefect is not installed ({exc}): run `make bench`, which installs the peers extra")
        return None

    def one(x: object = None) -> int:
        return 1

    step = task(one)

    def run_chain() -> object:
        x: object = None
        for _ in range(PREFECT_STEPS):
            x = step(x)
        return x

    chain: Callable[[], object] = flow(run_chain)
    return chain


def run() -> list[Comparison]:
    """Times the three workflow cases; returns the table rows."""
    root = tempfile.mkdtemp(prefix="zixir-bench-wf-")
    rows: list[Comparison] = []
    try:
        try:
            import dask  # noqa: F401
        except ImportError as exc:
            progress(f"dask is not installed ({exc}): run `make bench`, which installs the peers extra")
        else:
            rows.append(
                compare(
                    f"{STEPS:,}-step chain, checkpointed",
                    "dask threaded scheduler (no checkpoints)",
                    _zixir_chain(os.path.join(root, "chain"), STEPS),
                    _dask_chain,
                    target=0.25,
                    repeats=7,
                )
            )
            rows.append(
                compare(
                    f"{STEPS:,} independent steps, checkpointed",
                    "dask threaded scheduler (no checkpoints)",
                    _zixir_independent(os.path.join(root, "flat")),
                    _dask_independent,
                    target=0.25,
                    repeats=7,
                )
            )
        prefect = _prefect_chain()
        if prefect is not None:
            row = compare(
                f"{PREFECT_STEPS}-step chain, checkpointed",
                "Prefect local flow (ephemeral, no server)",
                _zixir_chain(os.path.join(root, "short"), PREFECT_STEPS),
                prefect,
                target=0.01,
                repeats=3,
            )
            rows.append(row)
            progress(
                f"per step: zixir {row.zixir_seconds / PREFECT_STEPS * 1e6:.0f} us, "
                f"prefect {row.peer_seconds / PREFECT_STEPS * 1e3:.1f} ms ({1 / row.ratio:.0f}x)"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows
