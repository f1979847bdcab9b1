"""``zixir demo``: the supervised agentic pipeline with injected faults; and ``zixir tour``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["demo", "tour"]


@click.command()
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=20.0,
    show_default=True,
    help="How long requests and agent turns run, after the workflow part.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the stores and demo.log here. Default: a fresh temporary dir, removed at the end.",
)
@click.option("--serve", is_flag=True, help="Keep running until Ctrl-C (SIGINT) or SIGTERM, then summarize.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Serve /metrics and /healthz on this loopback port (0: any free port).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (progress stays on stderr).")
@click.option("--seed", type=int, default=15, show_default=True, help="Seeds the generated events and users.")
def demo(seconds: float, data_dir: Path | None, serve: bool, metrics_port: int, as_json: bool, seed: int) -> None:
    """Run a supervised agentic pipeline with injected faults, and check what it survived.

    A workflow computes features and is killed with SIGKILL mid-run, then resumed; a
    scoring worker serves a stream of requests and is crashed and restarted; an agent
    calls a sandboxed tool that hangs or blows its memory, a flaky API through a circuit
    breaker with retries, and streams a fake model's tokens. Exits 0 when every check
    passes, 1 naming the ones that failed.

    \b
    Examples:
      zixir demo
      zixir demo --seconds 5 --json
      zixir demo --serve --metrics-port 9100
    """
    from zixir.demo.run import DemoOptions, run_demo

    sys.exit(run_demo(DemoOptions(seconds, data_dir, serve, metrics_port, as_json, seed)))


@click.command("tour")
def tour() -> None:
    """A short tour of the engine, the storage format, the cache and sandboxes.

    \b
    Example:
      zixir tour
    """
    from zixir.demo.tour import tour

    tour()
