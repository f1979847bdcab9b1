"""``python -m zixir.demo``: ``zixir demo`` (its options too)."""

from __future__ import annotations

from zixir.cli.demo import demo

__all__: list[str] = []

demo()
