"""``zixir workflow runs|status|dead-letters|replay|cancel``: a workflow's store in a data dir.

The store of workflow NAME is ``<data-dir>/workflows/NAME`` unless ``--store`` says where.
Reading needs no step functions; ``replay`` runs steps, so it needs the application's code
(``--app``) and the data dir to itself (no daemon on it).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from zixir.cli._common import (
    CommandError,
    DataDirBusyError,
    allow_pickle_option,
    app_option,
    data_dir_option,
    emit_json,
    existing_data_dir,
    import_app,
    json_option,
    print_table,
    when,
)

if TYPE_CHECKING:
    from zixir.workflow import Workflow
    from zixir.workflow.records import DeadLetter, RunResult

__all__ = ["workflow"]

F = TypeVar("F", bound=Callable[..., Any])
_STATUSES = ("running", "succeeded", "failed", "cancelled")


def _store_option(fn: F) -> F:
    return click.option(
        "--store",
        metavar="DIR",
        help="The workflow's store, if not <data-dir>/workflows/NAME (relative: inside the data dir).",
    )(fn)


@click.group()
def workflow() -> None:
    """Inspect and tend the runs of a workflow stored in a data dir.

    \b
    Example:
      zixir workflow runs etl --data-dir /var/lib/myapp
    """


@workflow.command()
@click.argument("name")
@click.option("--status", type=click.Choice(_STATUSES), help="Only runs in this state.")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="At most this many runs.")
@data_dir_option
@_store_option
@json_option
def runs(name: str, status: str | None, limit: int, data_dir: Path | None, store: str | None, as_json: bool) -> None:
    """List the runs of workflow NAME, newest first.

    \b
    Example:
      zixir workflow runs etl --status failed --data-dir /var/lib/myapp
    """
    from zixir.cli._stores import open_store, store_path
    from zixir.workflow import admin

    path = store_path(existing_data_dir(data_dir), name, store)
    with open_store(path) as opened:
        found = admin.runs(opened, name, status, limit)
    if as_json:
        emit_json(found)
        return
    print_table(
        ("run", "status", "created", "ended", "generation", "owner", "error"),
        [(r.run_id, r.status, when(r.created), when(r.ended), r.generation, r.owner, r.error) for r in found],
        empty=f"workflow {name!r} has no runs" + (f" with status {status}" if status else ""),
    )


@workflow.command()
@click.argument("name")
@click.argument("run_id")
@click.option("--outputs", is_flag=True, help="Also show the steps' stored outputs.")
@app_option
@allow_pickle_option
@data_dir_option
@_store_option
@json_option
def status(
    name: str,
    run_id: str,
    outputs: bool,
    app: str | None,
    allow_pickle: bool,
    data_dir: Path | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Show run RUN_ID of workflow NAME: its state and each step's.

    \b
    Example:
      zixir workflow status etl 2026-11-22 --outputs --app myapp.flows --data-dir /var/lib/myapp
    """
    from zixir.cli._stores import open_store, run_status, store_path

    path = store_path(existing_data_dir(data_dir), name, store)
    import_app(app)
    with open_store(path) as opened:
        result = run_status(opened, name, run_id, outputs, allow_pickle)
    if as_json:
        emit_json(result)
        return
    _show_result(result, outputs)


def _show_result(result: RunResult, outputs: bool) -> None:
    click.echo(
        f"workflow {result.workflow}, run {result.run_id}: {result.status} "
        f"(created {when(result.created)}, ended {when(result.ended)})"
    )
    if result.error:
        click.echo(f"error: {result.error}")
    rows = []
    for step in result.steps.values():
        seconds = None if step.start is None or step.end is None else f"{step.end - step.start:.3f}"
        done = sum(item.status in ("succeeded", "failed_continued") for item in step.items)
        items = f"{done}/{len(step.items)}" if step.items else None
        rows.append((step.step, step.status, step.attempts, items, when(step.start), seconds, step.error))
    print_table(("step", "status", "attempts", "items", "started", "seconds", "error"), rows, empty="no steps ran")
    if outputs:
        click.echo("outputs:")
        for step_name, value in result.outputs.items():
            click.echo(f"  {step_name} = {value!r}")


@workflow.command("dead-letters")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="At most this many.")
@click.option("--all", "include_replayed", is_flag=True, help="Also those already replayed.")
@data_dir_option
@_store_option
@json_option
def dead_letters(
    name: str, limit: int, include_replayed: bool, data_dir: Path | None, store: str | None, as_json: bool
) -> None:
    """List the steps of workflow NAME that failed for good, newest first.

    \b
    Example:
      zixir workflow dead-letters etl --data-dir /var/lib/myapp --json
    """
    from zixir.cli._stores import open_store, store_path
    from zixir.workflow import admin

    path = store_path(existing_data_dir(data_dir), name, store)
    with open_store(path) as opened:
        found = admin.dead_letters(opened, name, limit, None, include_replayed)
    if as_json:
        emit_json(found)
        return
    print_table(
        ("entry", "run", "step", "item", "attempts", "failed", "replayed", "error"),
        [_letter_row(d) for d in found],
        empty=f"workflow {name!r} has no dead letters",
    )


def _letter_row(d: DeadLetter) -> tuple[Any, ...]:
    error = f"{d.error_type.rpartition('.')[2]}: {d.message}"
    return (d.entry_id, d.run_id, d.step, d.item, d.attempts, when(d.time), when(d.replayed), error)


@workflow.command()
@click.argument("name")
@click.argument("run_id")
@data_dir_option
@_store_option
@json_option
def cancel(name: str, run_id: str, data_dir: Path | None, store: str | None, as_json: bool) -> None:
    """Ask run RUN_ID of workflow NAME to stop, wherever it runs (also under a daemon).

    No new step starts; running steps see ctx.cancelled; the run ends "cancelled".

    \b
    Example:
      zixir workflow cancel etl 2026-11-22 --data-dir /var/lib/myapp
    """
    from zixir.cli._stores import open_store, store_path
    from zixir.workflow import admin

    path = store_path(existing_data_dir(data_dir), name, store)
    with open_store(path) as opened:
        asked = admin.cancel(opened, name, run_id)
        current = admin.run_record(opened, name, run_id)["status"]
    if as_json:
        emit_json({"workflow": name, "run_id": run_id, "cancel_requested": asked, "status": current})
    elif asked:
        click.echo(f"asked run {run_id} of workflow {name} to stop; it ends as cancelled")
    else:
        click.echo(f"run {run_id} of workflow {name} is not running ({current}): nothing to cancel")


@workflow.command()
@click.argument("name")
@click.argument("entry_id")
@click.option(
    "--app",
    "app",
    metavar="MODULE[:ATTR]",
    required=True,
    help="The workflow's code: a module with a Workflow named NAME, or module:attr where attr is that "
    "Workflow or a function (app) -> Workflow or list of them.",
)
@allow_pickle_option
@data_dir_option
@_store_option
@json_option
def replay(
    name: str,
    entry_id: str,
    app: str,
    allow_pickle: bool,
    data_dir: Path | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Run dead letter ENTRY_ID's step again, then the rest of its run, in this process.

    The data dir must not be in use by a daemon (stop it first): its lock is held
    while the run resumes.

    \b
    Example:
      zixir workflow replay etl 01JD5Q3Z8X --app myapp.flows:workflows --data-dir /var/lib/myapp
    """
    from zixir.cli._stores import store_path
    from zixir.daemon.datadir import DataDir
    from zixir.errors import DataDirLockedError

    root = existing_data_dir(data_dir)
    path = store_path(root, name, store)
    try:
        lock = DataDir(root)
    except DataDirLockedError as exc:
        by = f"the daemon with pid {exc.pid}" if exc.pid is not None else "a daemon"
        raise DataDirBusyError(
            f"data dir {root} is in use by {by}: stop it before a replay (replay resumes the run in this process)"
        ) from exc
    try:
        flow = _find_workflow(app, name, root)
        try:
            if flow.allow_pickle and not allow_pickle:
                raise CommandError(
                    f"workflow {name!r} stores values by pickle (allow_pickle=True): pass --allow-pickle to replay it"
                )
            if os.path.realpath(flow.path) != str(path):
                raise CommandError(
                    f"workflow {name!r} from --app {app} keeps its store at {os.path.realpath(flow.path)}, not "
                    f"{path}: give --store (or --data-dir) for its store"
                )
            result = flow.replay(entry_id, progress=not as_json)
        finally:
            flow.close()
    finally:
        lock.release()
    if as_json:
        emit_json(result)
    else:
        _show_result(result, outputs=False)


def _find_workflow(spec: str, name: str, data_dir: Path) -> Workflow:
    """Workflow `name` from ``--app``: found in the module, or made by ``module:attr``."""
    from zixir.app import App
    from zixir.workflow import Workflow

    module = import_app(spec)
    attribute = spec.partition(":")[2]
    if not attribute:
        found = [value for value in vars(module).values() if isinstance(value, Workflow) and value.name == name]
    else:
        target = getattr(module, attribute, None)
        if target is None:
            raise CommandError(f"--app {spec}: module {spec.partition(':')[0]!r} has no attribute {attribute!r}")
        if callable(target) and not isinstance(target, Workflow):
            made = target(App(data_dir, name=spec.partition(":")[0])) if _takes_one(target) else target()
        else:
            made = target
        candidates = made if isinstance(made, (list, tuple)) else [made]
        found = [value for value in candidates if isinstance(value, Workflow) and value.name == name]
    if not found:
        raise CommandError(
            f"--app {spec} gives no Workflow named {name!r}: give a module that defines it, or module:function "
            "where function(app) returns it (or a list of workflows)"
        )
    return found[0]


def _takes_one(fn: Callable[..., Any]) -> bool:
    try:
        return len(inspect.signature(fn).parameters) == 1
    except (TypeError, ValueError):
        return False
