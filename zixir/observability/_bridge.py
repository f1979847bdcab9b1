"""Sends the standard logging module's records into loguru (loguru's InterceptHandler recipe).

Guards against loops with `zixir.actors._pykka.forward_logs_to_stdlib` (and any loguru
sink that writes to stdlib logging): a record that came from loguru is not sent back.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import loguru._handler
from loguru import logger

from zixir.actors._pykka import FORWARDED

if TYPE_CHECKING:
    from loguru import Record

__all__ = ["InterceptHandler", "install"]

# loguru's module that calls sinks: a stdlib record made while it is on the stack was
# written by a loguru sink, so it is in loguru already.
_LOGURU_HANDLER: Final = loguru._handler.__file__


class InterceptHandler(logging.Handler):
    """A stdlib handler that re-logs each record through loguru, from the caller's frame.

    The record keeps its stdlib logger's name (``record["name"]``), level and exception.
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Re-logs `record` through loguru, unless it came from loguru."""
        if getattr(record, FORWARDED, False):
            return
        level: str | int
        try:
            level = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # The depth of the frame that called logging, past logging's own frames; and
        # whether a loguru sink is further up (then the record is loguru's own).
        frame, depth, caller = inspect.currentframe(), 0, -1
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename == _LOGURU_HANDLER:
                return
            in_logging = filename == logging.__file__ or ("importlib" in filename and "_bootstrap" in filename)
            if caller < 0 and depth > 0 and not in_logging:
                caller = depth
            frame = frame.f_back
            depth += 1
        name = record.name

        def rename(loguru_record: Record) -> None:
            loguru_record["name"] = name

        logger.patch(rename).opt(depth=max(caller, 0), exception=record.exc_info).log(level, record.getMessage())


def install(level: int) -> Callable[[], None]:
    """Adds an `InterceptHandler` to the root logger and lets `level` through it.

    Args:
        level: The least severe stdlib level to pass on; the root logger's level is
            lowered to it if it is higher.

    Returns:
        A function that removes the handler and puts the root logger's level back.
    """
    root = logging.getLogger()
    handler = InterceptHandler()
    before = root.level
    root.addHandler(handler)
    if before > level:
        root.setLevel(level)

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(before)

    return undo
