"""``zixir run``: a supervision tree as a daemon."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["run"]


@click.command()
@click.argument("target", required=False)
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A TOML file with the tree (instead of TARGET), or the [app] table for TARGET.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The daemon's data directory (locked while it runs). Default: $ZIXIR_DATA_DIR or ~/.local/share/zixir.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    help="Serve /metrics, /healthz and /readyz on this port (0: any free port; see daemon.json).",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="The address to serve them on.")
@click.option("--log-json", is_flag=True, help="Log one JSON object per line.")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Log to this file (reopened on SIGHUP) instead of stderr.",
)
@click.option("--log-level", default="INFO", show_default=True, help="The least severe level logged.")
@click.option(
    "--drain-timeout",
    type=click.FloatRange(0, None),
    default=30.0,
    show_default=True,
    help="On SIGTERM/SIGINT, seconds the running steps of hosted workflows may take to finish before the tree stops.",
)
@click.option(
    "--ray-address",
    help="Join the Ray cluster at HOST:PORT (or 'auto') before the tree starts, for children and steps placed on "
    "Ray; overrides the [ray] table's address.",
)
@click.option("--check", is_flag=True, help="Check TARGET or --config, then exit without starting anything.")
def run(
    target: str | None,
    config: Path | None,
    data_dir: Path | None,
    metrics_port: int | None,
    metrics_host: str,
    log_json: bool,
    log_file: Path | None,
    log_level: str,
    drain_timeout: float,
    ray_address: str | None,
    check: bool,
) -> None:
    """Run a supervision tree as a daemon until SIGTERM or SIGINT.

    TARGET is 'package.module:build': build() or build(app) returns the root
    Supervisor's ref, or a list of ChildSpecs to put under a root supervisor.

    \b
    Examples:
      zixir run myapp.service:build --data-dir /var/lib/myapp --metrics-port 9100 --log-json
      zixir run --config app.toml --check
      zixir run myapp.service:build --ray-address 10.0.0.5:6379
    """
    from zixir.daemon.exit_codes import ExitCode

    if target is None and config is None:
        raise click.UsageError("give a TARGET ('package.module:build'), a --config file, or both")
    if check:
        _check(target, config, data_dir)
        return
    from zixir.daemon.runner import DaemonOptions, exit_process
    from zixir.daemon.runner import run as run_daemon

    options = DaemonOptions(
        target, config, data_dir, metrics_port, metrics_host, log_json, log_file, log_level, drain_timeout, ray_address
    )
    code = run_daemon(options)
    exit_process(int(code) if code is not None else int(ExitCode.OK))


def _check(target: str | None, config: Path | None, data_dir: Path | None) -> None:
    from zixir.daemon.config import load_config
    from zixir.daemon.runner import default_data_dir
    from zixir.daemon.target import load_target

    if config is not None:
        loaded = load_config(config, (data_dir or default_data_dir()).expanduser().resolve(), code=target is not None)
        click.echo(f"{config}: ok ({len(loaded.children)} children)")
    if target is not None:
        load_target(target)
        click.echo(f"{target}: ok")
