"""An LMDB-backed cache with TTL and an in-memory hot tier."""

from __future__ import annotations

from zixir.cache.cache import Cache, CacheStats

__all__ = ["Cache", "CacheStats"]
