"""Workflow steps on Ray: a 200-item ``map_over`` fan-out on Ray through a workflow (every
item committed to LMDB, the gathered output too) against the same 200 tasks in Ray alone
(``ray.get([f.remote(i) for i in range(200)])``), on one local cluster started with
``zixir.ray.connect(num_cpus=2)``.

The workflow is defined once and each repetition is a new run in the same store, as a
service runs one workflow many times (its steps' remote functions are made once).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable

from benchmarks.harness import Comparison, compare, progress

ITEMS = 200


def _double(items: int) -> int:
    """One item's task (the parameter is named after the step it maps over)."""
    return items * 2


def _items() -> list[int]:
    return list(range(ITEMS))


def _zixir_fan_out(store: str) -> tuple[Callable[[], object], Callable[[], None]]:
    from zixir.workflow import Workflow

    wf = Workflow("ray-fan-out", store=store)
    wf.add_step("items", _items)
    wf.add_step("doubled", _double, map_over="items", executor="ray")

    def run() -> object:
        result = wf.run()
        assert result.status == "succeeded", result
        assert result.outputs["doubled"][-1] == 2 * (ITEMS - 1)
        return result

    return run, wf.close


def _ray_alone() -> Callable[[], object]:
    import ray

    remote = ray.remote(_double)

    def run() -> object:
        values = ray.get([remote.remote(i) for i in range(ITEMS)])
        assert values[-1] == 2 * (ITEMS - 1)
        return values

    return run


def run() -> list[Comparison]:
    """Times the Ray fan-out; returns the table row (none when the ray extra is missing)."""
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        progress(f"ray is not installed ({exc}): pip install -e '.[ray]'")
        return []
    import zixir.ray

    progress("starting a local Ray cluster (num_cpus=2)")
    zixir.ray.connect(num_cpus=2, log_to_driver=False)
    root = tempfile.mkdtemp(prefix="zixir-bench-ray-")
    zixir_run, close = _zixir_fan_out(root)
    try:
        for warm in (zixir_run, _ray_alone()):  # Ray's workers start on the first tasks
            warm()
        return [
            compare(
                f"{ITEMS}-item map_over on Ray, checkpointed",
                "the same tasks in Ray alone (ray.get)",
                zixir_run,
                _ray_alone(),
                target=1.2,
                repeats=9,
            )
        ]
    finally:
        close()
        zixir.ray.disconnect()
        shutil.rmtree(root, ignore_errors=True)
