"""Suite-wide settings: which engine must be live, and hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pykka
import pytest
from hypothesis import settings

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
