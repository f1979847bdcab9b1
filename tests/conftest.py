"""Suite-wide settings: which engine must be live, and hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest
from hypothesis import settings
from loguru import logger

import zixir.metrics  # noqa: F401 - tests read Zixir's metrics from prometheus_client's registry
from zixir import cache, engine, tracing
from zixir.actors import _pykka
from zixir.cache import lookup
from zixir.tracing import _context, spans
from zixir.workflow import Workflow

settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fails the run at once if the compiled modules the Makefile asked for (or the pure
    Python ones) are not the live ones."""
    expected = os.environ.get("ZIXIR_EXPECT_IMPLEMENTATION")
    live = {
        "the engine": engine.IMPLEMENTATION,
        "the cache's lookups": cache.LOOKUP_IMPLEMENTATION,
        "the span core": tracing.SPANS_IMPLEMENTATION,
    }
    for what, implementation in live.items():
        if expected and implementation != expected:
            raise pytest.UsageError(
                f"this run expects {what} in {expected} but {implementation} is live; "
                "rebuild the extensions with `pip install -e .`"
            )
    for module in (lookup, _context, spans, _pykka._tracing()):  # compiled from their .py and .pxd
        built = module.__file__ or ""
        if built.endswith(".py"):
            continue
        stem = os.path.join(os.path.dirname(built), module.__name__.rpartition(".")[2])
        for source in (f"{stem}.py", f"{stem}.pxd"):
            if os.path.getmtime(source) > os.path.getmtime(built):
                raise pytest.UsageError(f"{built} is older than {source}: rebuild it with `pip install -e .`")


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


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., Workflow]]:
    """Builds workflows on the test's store; each is closed after the test."""
    made: list[Workflow] = []

    def build(name: str = "wf", **options: Any) -> Workflow:
        options.setdefault("store", tmp_path / "store")
        wf = Workflow(name, **options)
        made.append(wf)
        return wf

    yield build
    for wf in made:
        wf.close()
