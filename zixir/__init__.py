"""Zixir: Erlang/OTP-style supervision, durable workflows and fast kernels for Python."""

from __future__ import annotations

from loguru import logger as _logger

from zixir import engine, errors, serialization
from zixir.errors import ZixirError
from zixir.observability import configure_logging

__all__ = ["ZixirError", "configure_logging", "engine", "errors", "observability", "serialization"]

# Libraries stay silent until the application opts in (loguru's advice for libraries).
_logger.disable("zixir")
