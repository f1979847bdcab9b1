"""The ``zixir`` command. Only click loads at start; each command imports what it needs.

Errors are one line that says what to fix; ``zixir --debug ...`` adds the traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

__all__ = ["main"]


class _Group(click.Group):
    """Turns Zixir's errors into one line and an exit code, unless --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            _fail(exc)


def _fail(exc: Exception) -> NoReturn:
    from zixir.daemon.exit_codes import ExitCode
    from zixir.daemon.target import TargetError
    from zixir.errors import ConfigError, DataDirLockedError

    codes = {ConfigError: ExitCode.USAGE, TargetError: ExitCode.USAGE, DataDirLockedError: ExitCode.LOCKED}
    code = next((code for kind, code in codes.items() if isinstance(exc, kind)), ExitCode.ERROR)
    detail = "" if code != ExitCode.ERROR else f"{type(exc).__name__}: "
    click.echo(f"zixir: error: {detail}{exc}", err=True)
    if code == ExitCode.ERROR:
        click.echo("zixir: rerun with --debug for the traceback", err=True)
    sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="zixir")
def main(debug: bool) -> None:
    """Zixir: run supervision trees as daemons, and inspect their data.

    \b
    Example:
      zixir run myapp.service:build --data-dir /var/lib/myapp --metrics-port 9100
    """


@main.command()
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
    check: bool,
) -> None:
    """Run a supervision tree as a daemon until SIGTERM or SIGINT.

    TARGET is 'package.module:build': build() or build(app) returns the root
    Supervisor's ref, or a list of ChildSpecs to put under a root supervisor.

    \b
    Examples:
      zixir run myapp.service:build --data-dir /var/lib/myapp --metrics-port 9100 --log-json
      zixir run --config app.toml --check
    """
    from zixir.daemon.exit_codes import ExitCode

    if target is None and config is None:
        raise click.UsageError("give a TARGET ('package.module:build'), a --config file, or both")
    if check:
        _check(target, config, data_dir)
        return
    from zixir.daemon.runner import DaemonOptions, exit_process
    from zixir.daemon.runner import run as run_daemon

    options = DaemonOptions(target, config, data_dir, metrics_port, metrics_host, log_json, log_file, log_level)
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


@main.command("tour")
def tour_command() -> None:
    """A short tour of the engine, the storage format, the cache and sandboxes."""
    from zixir.demo import tour

    tour()


if __name__ == "__main__":  # pragma: no cover
    main()
