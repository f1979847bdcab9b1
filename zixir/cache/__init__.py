"""An LMDB-backed cache with TTL and an in-memory hot tier."""

from __future__ import annotations

from typing import Literal

from zixir import _compiled

_compiled.prefer_source("zixir.cache.lookup")  # before anything imports it

from zixir.cache import lookup  # noqa: E402
from zixir.cache.actor import CacheActor  # noqa: E402
from zixir.cache.cache import Cache, CacheStats  # noqa: E402
from zixir.cache.plan import QueryPlan  # noqa: E402
from zixir.cache.warming import WarmSummary  # noqa: E402

LOOKUP_IMPLEMENTATION: Literal["cython", "python"] = _compiled.implementation(lookup)
"""``"cython"`` when the read path (`get`, `get_many`, ``in``) runs compiled, ``"python"``
when it runs from its source (no build, or ``ZIXIR_PUREPYTHON=1``)."""

__all__ = ["LOOKUP_IMPLEMENTATION", "Cache", "CacheActor", "CacheStats", "QueryPlan", "WarmSummary"]
