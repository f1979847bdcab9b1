"""``zixir cache stats|get|keys``: the application's cache in a data dir.

The cache is ``<data-dir>/cache`` unless ``--cache`` says where. It is opened beside a
daemon that may be using it (LMDB allows many processes); these commands only read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from zixir.cli._common import (
    CommandError,
    app_option,
    data_dir_option,
    emit_json,
    existing_data_dir,
    import_app,
    json_option,
    print_table,
)

if TYPE_CHECKING:
    from zixir.cache import Cache

__all__ = ["cache"]

F = TypeVar("F", bound=Callable[..., Any])


def _cache_option(fn: F) -> F:
    return click.option(
        "--cache",
        "cache_dir",
        metavar="DIR",
        help="The cache's directory, if not <data-dir>/cache (relative: inside the data dir).",
    )(fn)


@contextmanager
def _open(data_dir: Path | None, cache_dir: str | None) -> Iterator[Cache]:
    from zixir.cache import Cache
    from zixir.daemon import layout

    path = layout.cache_path(existing_data_dir(data_dir), cache_dir).resolve()
    if not (path / "data.mdb").is_file():
        raise CommandError(f"no cache at {path}: give the daemon's --data-dir, or the cache's directory with --cache")
    opened = Cache(path, memory_items=0)  # no memory tier: every read comes from the file
    try:
        yield opened
    finally:
        opened.close()


def _key(key: str, as_bytes: bool) -> str | bytes:
    return key.encode() if as_bytes else key


@click.group()
def cache() -> None:
    """Look into the cache kept in a data dir.

    \b
    Example:
      zixir cache stats --data-dir /var/lib/myapp
    """


@cache.command()
@data_dir_option
@_cache_option
@json_option
def stats(data_dir: Path | None, cache_dir: str | None, as_json: bool) -> None:
    """Show how many entries the cache holds, how many have expired, and its size.

    Hit rates are the daemon's own: zixir_cache_hits_total and zixir_cache_misses_total
    on its /metrics.

    \b
    Example:
      zixir cache stats --data-dir /var/lib/myapp --json
    """
    with _open(data_dir, cache_dir) as opened:
        figures = opened.stats()
        live = len(opened.keys())
        path = str(opened.path)
    shown = {
        "path": path,
        "entries": figures.entries,
        "live": live,
        "expired": figures.entries - live,
        "bytes_on_disk": figures.bytes_on_disk,
        "map_size": figures.map_size,
    }
    if as_json:
        emit_json(shown)
        return
    print_table(("cache", path), [(name, value) for name, value in shown.items() if name != "path"])


@cache.command()
@click.argument("prefix", required=False)
@click.option("--bytes", "as_bytes", is_flag=True, help="PREFIX is a bytes key prefix (given as UTF-8 text).")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True, help="At most this many keys.")
@data_dir_option
@_cache_option
@json_option
def keys(
    prefix: str | None, as_bytes: bool, limit: int, data_dir: Path | None, cache_dir: str | None, as_json: bool
) -> None:
    """List the cache's live keys (starting with PREFIX, if given), in stored order.

    Keys are str or bytes; bytes keys show as b'...' (in JSON: {"bytes": "<hex>"}).

    \b
    Example:
      zixir cache keys user: --limit 20 --data-dir /var/lib/myapp
    """
    with _open(data_dir, cache_dir) as opened:
        found = opened.keys(None if prefix is None else _key(prefix, as_bytes))
    more = len(found) > limit
    found = found[:limit]
    if as_json:
        emit_json([key if isinstance(key, str) else {"bytes": key.hex()} for key in found])
        return
    for key in found:
        click.echo(key if isinstance(key, str) else repr(key))
    if not found:
        click.echo("(no keys)")
    elif more:
        click.echo(f"(first {limit} keys; raise --limit for more)")


@cache.command()
@click.argument("key")
@click.option("--bytes", "as_bytes", is_flag=True, help="KEY is a bytes key (given as UTF-8 text).")
@app_option
@data_dir_option
@_cache_option
@json_option
def get(key: str, as_bytes: bool, app: str | None, data_dir: Path | None, cache_dir: str | None, as_json: bool) -> None:
    """Show the value stored under KEY.

    \b
    Example:
      zixir cache get user:42 --app myapp.models --data-dir /var/lib/myapp
    """
    from zixir.errors import CorruptRecordError, SerializationError

    import_app(app)
    missing = object()
    with _open(data_dir, cache_dir) as opened:
        try:
            value = opened.get(_key(key, as_bytes), missing)
        except CorruptRecordError as exc:
            if isinstance(exc.__cause__, SerializationError) and "not registered" in str(exc.__cause__):
                raise CommandError(
                    f"the value of {key!r} holds a class this process has not registered ({exc.__cause__}); "
                    "pass --app with the module that registers it"
                ) from exc
            raise
        path = opened.path
    if value is missing:
        raise CommandError(f"the cache at {path} has no live entry {key!r} (absent or expired)")
    if as_json:
        emit_json({"key": key, "value": value})
    else:
        import pprint

        click.echo(pprint.pformat(value, width=100, sort_dicts=False))
