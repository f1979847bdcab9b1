"""Suite-wide settings: which engine must be live, and hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pykka
import pytest
from hypothesis import settings
from loguru import logger

from zixir import engine

settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fails the run at once if the engine the Makefile asked for is not the live one."""
    expected = os.environ.get("ZIXIR_EXPECT_IMPLEMENTATION")
    if expected and engine.IMPLEMENTATION != expected:
        raise pytest.UsageError(
            f"this run expects the {expected} engine but {engine.IMPLEMENTATION} is live; "
            "rebuild the extension with `pip install -e .`"
        )


@pytest.fixture(autouse=True)
def _stop_all_actors() -> Iterator[None]:
    """Every test leaves no actor running (pykka's own suite does the same)."""
    yield
    pykka.ActorRegistry.stop_all(timeout=10)


@pytest.fixture
def records() -> Iterator[list[dict[str, Any]]]:
    """Zixir's log records while the test runs (Zixir is silent by default)."""
    out: list[dict[str, Any]] = []
    logger.enable("zixir")
    handler = logger.add(lambda message: out.append(message.record), level="DEBUG")
    yield out
    logger.remove(handler)
    logger.disable("zixir")
