"""Opt-in logging for applications: Zixir's records as JSON lines, through loguru.

The library itself never adds a sink; the application (or the ``zixir`` command) calls
`configure_logging` once.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from loguru import logger

__all__ = ["configure_logging"]


def configure_logging(
    level: str | int = "INFO",
    *,
    sink: TextIO | Any = None,
    json: bool = True,
) -> int:
    """Enables Zixir's log records and sends them to `sink`.

    Args:
        level: The least severe level written (a loguru level name or number).
        sink: Where records go: anything loguru accepts as a sink; stderr by default.
        json: One JSON object per line (loguru's ``serialize=True``) when true, loguru's
            human format otherwise.

    Returns:
        The loguru handler id, for ``logger.remove(handler_id)``.

    Raises:
        ValueError: `level` is not a level loguru knows.
    """
    handler_id = logger.add(
        sys.stderr if sink is None else sink,
        level=level,
        serialize=json,
        enqueue=False,
        backtrace=False,
        diagnose=False,
    )
    logger.enable("zixir")
    return handler_id
