"""Sends the standard logging module's records into loguru (loguru's InterceptHandler recipe).

Guards against loops with `zixir.actors._pykka.forward_logs_to_stdlib` (and any loguru
sink that writes to stdlib logging): a record that came from loguru is not sent back.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from loguru import logger

from zixir.actors._pykka import FORWARDED

if TYPE_CHECKING:
    from loguru import Record

__all__ = ["InterceptHandler", "install"]

# Set while this thread is handing a stdlib record to loguru: a record that reaches the
# handler again meanwhile was written to stdlib by a loguru sink, so it is in loguru already.
_passing = threading.local()


class InterceptHandler(logging.Handler):
    """A stdlib handler that re-logs each record through loguru, from the caller's frame.

    The record keeps its stdlib logger's name (``record["name"]``), level and exception.
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Re-logs `record` through loguru, unless it came from loguru."""
        if getattr(record, FORWARDED, False) or getattr(_passing, "active", False):
            return
        level: str | int
        try:
            level = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # The depth of the frame that called logging, past logging's own frames.
        frame, depth = inspect.currentframe(), 0
        while frame is not None:
            filename = frame.f_code.co_filename
            in_logging = filename == logging.__file__ or ("importlib" in filename and "_bootstrap" in filename)
            if depth > 0 and not in_logging:
                break
            frame = frame.f_back
            depth += 1
        name = record.name

        def rename(loguru_record: Record) -> None:
            loguru_record["name"] = name

        _passing.active = True
        try:
            logger.patch(rename).opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())
        finally:
            _passing.active = False


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
