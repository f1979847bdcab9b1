"""What ``zixir run`` hands an application's ``build(app)``: its data dir, config and logger."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger as _logger

__all__ = ["App"]


@dataclass(frozen=True)
class App:
    """The running daemon, as the application's ``build(app)`` sees it.

    Attributes:
        data_dir: The daemon's data directory (locked for this daemon); put caches and
            workflow stores inside it.
        config: The ``[app]`` table of ``--config``, or an empty dict.
        logger: A loguru logger bound to ``app=<name>``.
        name: The application's name: the target's module, or the config file's stem.
    """

    data_dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    name: str = "app"
    logger: Any = field(default=None)

    def __post_init__(self) -> None:
        if self.logger is None:
            object.__setattr__(self, "logger", _logger.bind(app=self.name))

    def path(self, *parts: str) -> Path:
        """A path inside the data dir: ``app.path("cache")``."""
        return self.data_dir.joinpath(*parts)
