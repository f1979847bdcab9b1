"""An LMDB-backed cache with TTL and an in-memory hot tier."""

from __future__ import annotations

from zixir.cache.actor import CacheActor
from zixir.cache.cache import Cache, CacheStats
from zixir.cache.warming import WarmSummary

__all__ = ["Cache", "CacheActor", "CacheStats", "WarmSummary"]
