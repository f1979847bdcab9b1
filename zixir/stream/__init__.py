"""Lazy pipelines over sync and async sources: `Stream` with bounded buffers between
stages, concurrent maps, actor and cache sinks, and per-stage stats and metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zixir._lazy import attributes

if TYPE_CHECKING:
    from zixir.stream.aio import Outcome, gather, run_async
    from zixir.stream.sources import END
    from zixir.stream.stats import PipelineStats, StageStats
    from zixir.stream.stream import Stream

__all__ = ["END", "Outcome", "PipelineStats", "StageStats", "Stream", "gather", "run_async"]

__getattr__, __dir__ = attributes(
    globals(),
    {
        "END": "sources",
        "Outcome": "aio",
        "PipelineStats": "stats",
        "StageStats": "stats",
        "Stream": "stream",
        "gather": "aio",
        "run_async": "aio",
    },
)
