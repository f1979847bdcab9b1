"""The ``zixir`` command. Only click loads at start; each command imports what it needs.

Errors are one line that says what to fix; ``zixir --debug ...`` adds the traceback.
"""

from __future__ import annotations

import sys
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
    from zixir.errors import (
        CheckpointMissingError,
        ConfigError,
        DataDirLockedError,
        RayConnectionError,
        RunOwnedError,
        UnknownDeadLetterError,
        UnknownRunError,
    )

    # Mistakes the message explains (a wrong name or id, a run busy elsewhere): no type name.
    usage = (ConfigError, TargetError, UnknownRunError, UnknownDeadLetterError, CheckpointMissingError, RunOwnedError)
    codes: dict[type[Exception] | tuple[type[Exception], ...], ExitCode] = {
        usage: ExitCode.USAGE,
        DataDirLockedError: ExitCode.LOCKED,
        RayConnectionError: ExitCode.START_FAILED,
    }
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
    Examples:
      zixir run myapp.service:build --data-dir /var/lib/myapp --metrics-port 9100
      zixir tree --data-dir /var/lib/myapp
      zixir workflow runs etl --data-dir /var/lib/myapp --json
      zixir demo --seconds 5
    """


from zixir.cli import cache, demo, run, sandbox, tree, workflow  # noqa: E402  (the group comes first)

main.add_command(run.run)
main.add_command(demo.demo)
main.add_command(demo.tour)
main.add_command(workflow.workflow)
main.add_command(cache.cache)
main.add_command(sandbox.sandbox)
main.add_command(tree.tree)

if __name__ == "__main__":  # pragma: no cover
    main()
