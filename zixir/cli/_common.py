"""What the inspection commands share: their options, the data dir, the application's
module, one-line errors, and output as a table for people or JSON for scripts.

Only click and the standard library load here; each command imports the rest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import importlib
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import click

from zixir.daemon.exit_codes import ExitCode

__all__ = [
    "CommandError",
    "DataDirBusyError",
    "allow_pickle_option",
    "app_option",
    "data_dir_option",
    "emit_json",
    "existing_data_dir",
    "import_app",
    "json_option",
    "jsonable",
    "print_table",
    "when",
]

F = TypeVar("F", bound=Callable[..., Any])


class CommandError(click.ClickException):
    """A command cannot do what it was asked: one line that says what to fix; exit code 2."""

    exit_code = ExitCode.USAGE

    def show(self, file: Any = None) -> None:
        click.echo(f"zixir: error: {self.format_message()}", err=True)


class DataDirBusyError(CommandError):
    """The data dir is locked by a running daemon; exit code 4."""

    exit_code = ExitCode.LOCKED


def data_dir_option(fn: F) -> F:
    """``--data-dir``, as ``zixir run`` takes it."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="The daemon's data directory. Default: $ZIXIR_DATA_DIR or ~/.local/share/zixir.",
    )(fn)


def json_option(fn: F) -> F:
    """``--json``: machine-readable output."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(fn)


def app_option(fn: F) -> F:
    """``--app module``: import the application's code first."""
    return click.option(
        "--app",
        "app",
        metavar="MODULE",
        help="Import this module first (it registers the dataclasses stored, or defines the workflow).",
    )(fn)


def allow_pickle_option(fn: F) -> F:
    """``--allow-pickle``: the opt-in to unpickle stored values."""
    return click.option(
        "--allow-pickle",
        is_flag=True,
        help="Unpickle values stored by pickle (runs code the data names: only for a store you trust).",
    )(fn)


def existing_data_dir(path: Path | None) -> Path:
    """The data dir (``--data-dir`` or the default), which must exist."""
    from zixir.daemon.runner import default_data_dir

    resolved = (path or default_data_dir()).expanduser().resolve()
    if not resolved.is_dir():
        raise CommandError(f"no data dir at {resolved}: give the daemon's --data-dir (or set ZIXIR_DATA_DIR)")
    return resolved


def import_app(spec: str | None) -> ModuleType | None:
    """Imports the module of ``--app`` (``module`` or ``module:attribute``)."""
    if spec is None:
        return None
    name = spec.partition(":")[0]
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as `python -m` would: the application is often here
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise CommandError(f"--app {spec}: cannot import {name!r} ({exc}); check the name and PYTHONPATH") from exc


def when(seconds: float | None) -> str:
    """A wall-clock time for people: local, to the second; "-" for none."""
    if seconds is None:
        return "-"
    return dt.datetime.fromtimestamp(seconds).isoformat(sep=" ", timespec="seconds")


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data: tuples and sets become lists, bytes hex, times ISO
    strings, dataclasses dicts, other objects their repr."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else repr(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return repr(value)


def emit_json(value: Any) -> None:
    """Prints `value` as indented JSON."""
    click.echo(json.dumps(jsonable(value), indent=2))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "(none)") -> None:
    """Prints rows under their headers, columns padded to their widest cell; `empty` when
    there is no row. A cell's text stops at its first line."""
    cells = [[_cell(value) for value in row] for row in rows]
    if not cells:
        click.echo(empty)
        return
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        click.echo("  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip())


def _cell(value: Any) -> str:
    text = "-" if value is None else str(value)
    first, _, rest = text.partition("\n")
    return first + (" …" if rest else "")
