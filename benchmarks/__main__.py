"""Runs every benchmark and prints the side-by-side table: ``python -m benchmarks``."""

from __future__ import annotations

import os

# Before numpy loads: compare against single-threaded BLAS, as the targets say.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from benchmarks import (
    bench_actors,
    bench_analytics,
    bench_cache,
    bench_cli,
    bench_engine,
    bench_import,
    bench_ray_children,
    bench_ray_workflow,
    bench_resilience,
    bench_sandbox,
    bench_stream,
    bench_tables,
    bench_workflow,
)
from benchmarks.harness import machine, print_table
from zixir import engine


def main() -> None:
    """Runs the benchmarks and prints one table per component."""
    print(f"machine: {machine()}; engine: {engine.IMPLEMENTATION}")
    print("figures are medians of repeated runs; ratio = zixir time / peer time")
    print_table("import", bench_import.run())
    print_table("the zixir command", bench_cli.run())
    print_table("actors and supervision", bench_actors.run())
    print_table("resilience", bench_resilience.run())
    print_table("engine kernels", bench_engine.run())
    print_table("cache", bench_cache.run())
    print_table("cache tables", bench_tables.run())
    print_table("sandbox", bench_sandbox.run())
    print_table("workflow", bench_workflow.run())
    print_table("ray workflows", bench_ray_workflow.run())
    print_table("streams", bench_stream.run())
    print_table("analytics", bench_analytics.run())
    print_table("ray", bench_ray_children.run())


if __name__ == "__main__":
    main()
