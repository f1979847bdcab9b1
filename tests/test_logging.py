"""Zixir stays silent as a library and logs JSON lines once the application asks."""

from __future__ import annotations

import io
import json

from loguru import logger

import zixir
from zixir.observability import configure_logging


def _log_from_inside_zixir(message: str) -> None:
    # loguru decides by the calling module's __name__, so log from a zixir.* namespace.
    exec("from loguru import logger\nlogger.info(message)", {"__name__": "zixir.probe", "message": message})


def test_importing_zixir_keeps_its_records_silent() -> None:
    out = io.StringIO()
    handler = logger.add(out, level="DEBUG", format="{name}: {message}")
    try:
        _log_from_inside_zixir("hidden")
        logger.info("the application's own record")
        assert "hidden" not in out.getvalue()
        assert "the application's own record" in out.getvalue()
    finally:
        logger.remove(handler)
    assert zixir.configure_logging is configure_logging


def test_configure_logging_enables_zixir_and_writes_json_lines() -> None:
    out = io.StringIO()
    handler = configure_logging("DEBUG", sink=out)
    try:
        _log_from_inside_zixir("ready")
        record = json.loads(out.getvalue().splitlines()[-1])
        assert record["record"]["message"] == "ready"
        assert record["record"]["name"] == "zixir.probe"
        assert record["record"]["level"]["name"] == "INFO"
    finally:
        logger.remove(handler)
        logger.disable("zixir")
