"""Zixir: Erlang/OTP-style supervision, durable workflows and fast kernels for Python."""

from __future__ import annotations

from loguru import logger

from zixir import errors
from zixir.errors import ZixirError

__all__ = ["ZixirError", "errors"]

# Libraries stay silent until the application opts in (loguru's advice for libraries).
logger.disable("zixir")
