"""Opt-in logging for applications: Zixir's records as flat JSON lines, through loguru.

The library itself never adds a sink; the application (or the ``zixir`` command) calls
`configure_logging`, and a second call replaces what the first installed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from loguru import logger

from zixir import _validate
from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.observability import _bridge
from zixir.observability._records import Formatter, Redact

__all__ = ["configure_logging", "remove_logging"]

#: The id of the stderr handler loguru installs on import; the first call removes it.
_LOGURU_DEFAULT = 0
_lock = threading.Lock()
_default_removed = threading.Event()
# What the last call installed: its loguru handler id, how to undo its stdlib bridge, and
# how to stop its span records.
_installed: tuple[int, Callable[[], None] | None, Callable[[], None] | None] | None = None


def configure_logging(
    level: str | int = "INFO",
    *,
    sink: TextIO | str | os.PathLike[str] | Any = None,
    json: bool = True,
    rotation: str | int | Any = None,
    retention: str | int | Any = None,
    bridge_stdlib: bool = False,
    redact: Redact | None = None,
    spans: bool = False,
) -> int:
    """Enables Zixir's log records and sends them to `sink`, one flat record per line.

    With `json`, each line is one JSON object: ``time`` (RFC 3339, UTC), ``level``,
    ``message``, ``logger`` (the module or stdlib logger), ``actor`` (the actor whose
    thread wrote it), ``trace_id`` and ``span_id`` (the current span's), ``exception`` (the
    traceback text), then the event's own fields (``event`` and the fields
    `zixir.observability.events` lists). A second call replaces the handler of the first
    and undoes its stdlib bridge. The first call also removes loguru's default stderr
    handler (id 0) if it is still there: it would write each record twice, and its
    tracebacks show local variables.

    Args:
        level: The least severe level written: a loguru level name (any case) or number.
        sink: Where records go: stderr by default; a path (str or os.PathLike) for a file;
            or anything else loguru accepts as a sink (a stream, a callable).
        json: One JSON object per line when true; a text line for people otherwise.
        rotation: When a file sink starts a new file (loguru's ``rotation``: a size such
            as ``"100 MB"``, a time such as ``"00:00"``, an interval); path sinks only.
        retention: Which rotated files are kept (loguru's ``retention``: a count, an age
            such as ``"10 days"``); path sinks only.
        bridge_stdlib: Also write the standard logging module's records (pykka's, other
            libraries') to the sink, through a handler on the root logger; off by default.
        redact: Called with every record's fields (a dict) before it is written; returns
            the fields to write. Zixir's own fields never hold call arguments, messages or
            results; a redact hook covers what applications bind themselves.
        spans: Also write one record per finished span (``event="span"``, its fields at
            the top level), from `zixir.tracing`'s exporter thread; off by default.

    Returns:
        The loguru handler id, for ``logger.remove(handler_id)``.

    Raises:
        InvalidArgumentError: `level` is not a level loguru knows, or `rotation` or
            `retention` is given for a sink that is not a path.
        ArgumentTypeError: `json`, `bridge_stdlib` or `spans` is not a bool, or `redact`
            is not callable.
    """
    global _installed
    name, number = _level(level)
    for flag, value in (("json", json), ("bridge_stdlib", bridge_stdlib), ("spans", spans)):
        if not isinstance(value, bool):
            raise ArgumentTypeError(f"{flag} must be True or False, got {value!r}", flag)
    if redact is not None:
        _validate.function("redact", redact, "a callable that takes and returns the record's fields")
    files: dict[str, Any] = {}
    for option, setting in (("rotation", rotation), ("retention", retention)):
        if setting is None:
            continue
        if not isinstance(sink, (str, os.PathLike)):
            raise InvalidArgumentError(
                f"{option} applies to file sinks only, and sink={sink!r} is not a path: "
                f"pass sink as a file path (str or pathlib.Path), or leave {option} out",
                option,
            )
        files[option] = setting
    with _lock:
        handler_id = logger.add(
            sys.stderr if sink is None else sink,
            level=name,
            format=Formatter(json=json, redact=redact),
            colorize=False,
            enqueue=False,
            backtrace=False,
            diagnose=False,  # loguru's diagnose prints local variables: call values, maybe secrets
            **files,
        )
        if not _default_removed.is_set():
            _default_removed.set()
            # loguru's own stderr handler prints local variables (call values) with each
            # traceback, and would write every record a second time.
            with contextlib.suppress(ValueError):
                logger.remove(_LOGURU_DEFAULT)
        if _installed is not None:
            _uninstall(*_installed)
        # The old bridge is undone first: the new one finds the root level as it was.
        _installed = (handler_id, _bridge.install(number) if bridge_stdlib else None, _span_logs() if spans else None)
    logger.enable("zixir")
    return handler_id


def remove_logging() -> None:
    """Removes the handler and the stdlib bridge the last `configure_logging` call installed.

    Zixir's records go silent again (``logger.disable("zixir")``), as after ``import zixir``.
    """
    global _installed
    with _lock:
        previous, _installed = _installed, None
    if previous is not None:
        _uninstall(*previous)
    logger.disable("zixir")


def _uninstall(handler_id: int, undo_bridge: Callable[[], None] | None, stop_spans: Callable[[], None] | None) -> None:
    if stop_spans is not None:
        stop_spans()
    with contextlib.suppress(ValueError):  # the application removed it already
        logger.remove(handler_id)
    if undo_bridge is not None:
        undo_bridge()


def _span_logs() -> Callable[[], None]:
    """Adds `zixir.tracing`'s JSON-log exporter; returns how to remove it."""
    from zixir.tracing.export import add_exporter, remove_exporter
    from zixir.tracing.logs import JsonLogExporter

    exporter = JsonLogExporter()
    add_exporter(exporter)

    def stop() -> None:
        remove_exporter(exporter)

    return stop


def _level(level: object) -> tuple[str | int, int]:
    """The level as loguru takes it, and its number."""
    if isinstance(level, bool) or not isinstance(level, (str, int)):
        raise ArgumentTypeError(f"level must be a level name such as 'INFO' or a number, got {level!r}", "level")
    if isinstance(level, int):
        return level, _validate.whole("level", level, at_least=0)
    try:
        found = logger.level(level.upper())
    except ValueError:
        raise InvalidArgumentError(
            f"level must be a loguru level name (TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR, CRITICAL, "
            f"or one added with logger.level) or a number, got {level!r}",
            "level",
        ) from None
    return found.name, found.no
