"""``python -m zixir.cli``: the ``zixir`` command."""

from __future__ import annotations

from zixir.cli import main

__all__: list[str] = []

main()
