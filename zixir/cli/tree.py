"""``zixir tree``: the live supervision tree of the daemon running on a data dir, read from
``<data-dir>/daemon.json`` and the daemon's ``/healthz``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from zixir.cli._common import CommandError, data_dir_option, emit_json, existing_data_dir, json_option

__all__ = ["tree"]

#: Seconds to wait for the daemon's answer.
TIMEOUT = 10.0


@click.command()
@data_dir_option
@json_option
def tree(data_dir: Path | None, as_json: bool) -> None:
    """Show the live tree of the daemon running on a data dir: each supervisor's phase and
    restarts, each child's state.

    The daemon must serve its health (zixir run --metrics-port N).

    \b
    Example:
      zixir tree --data-dir /var/lib/myapp
    """
    from zixir.daemon.datadir import DataDir, is_held

    root = existing_data_dir(data_dir)
    info_file = root / DataDir.INFO
    if not is_held(root):
        left = " (its daemon.json is left from a daemon that is gone)" if info_file.exists() else ""
        raise CommandError(f"no daemon runs on {root}{left}: start one with zixir run, or give its --data-dir")
    try:
        info = json.loads(info_file.read_text())
    except (OSError, ValueError):
        raise CommandError(
            f"the daemon on {root} has not written {DataDir.INFO} yet (still starting?): try again in a moment"
        ) from None
    url = info.get("metrics_url")
    if not url:
        raise CommandError(
            f"the daemon on {root} (pid {info.get('pid')}) serves no health endpoint: restart it with --metrics-port"
        )
    report = _health(url)
    if as_json:
        emit_json({"pid": info.get("pid"), "metrics_url": url, **report})
        return
    state = "healthy" if report.get("status") == "ok" else "unhealthy"
    ready = "ready" if report.get("ready") else "not ready"
    click.echo(f"daemon pid {info.get('pid')} on {root}: {state}, {ready} ({url})")
    for supervisor in report.get("supervisors", []):
        _show(supervisor, "", "")


def _health(url: str) -> dict[str, Any]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=TIMEOUT) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:  # 503 while unhealthy: the body is still the report
        body = exc.read()
    except OSError as exc:
        raise CommandError(f"the daemon's health endpoint {url}/healthz does not answer ({exc}): is it hung?") from exc
    loaded = json.loads(body)
    if not isinstance(loaded, dict):
        raise CommandError(f"{url}/healthz answered {body[:80]!r}, not a health report")
    return loaded


def _show(supervisor: dict[str, Any], lead: str, branch: str) -> None:
    reason = f", gave up: {supervisor['reason']}" if supervisor.get("reason") else ""
    click.echo(
        f"{lead}{branch}{supervisor['name']}  supervisor {supervisor['phase']}, restarts {supervisor['restarts']}"
        f"{reason}"
    )
    children = supervisor.get("children", [])
    below = lead + ("" if not branch else ("│   " if branch.startswith("├") else "    "))
    for index, child in enumerate(children):
        mark = "└── " if index == len(children) - 1 else "├── "
        if "supervisor" in child:
            _show(child["supervisor"], below, mark)
        else:
            click.echo(f"{below}{mark}{child['name']}  {child['state']}, restarts {child['restarts']}")
