"""Where a daemon's data lives in its data directory, so that ``zixir`` commands find it.

``<data-dir>/cache`` is the application's cache; ``<data-dir>/workflows/<name>`` is the
store of the workflow called ``<name>``. Applications put them there with
``app.path("cache")`` and ``app.path("workflows", name)`` (docs/daemon.md).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE", "WORKFLOWS", "cache_path", "workflow_names", "workflow_store"]

#: The cache's directory, relative to the data dir.
CACHE = "cache"
#: The directory holding one store per workflow, relative to the data dir.
WORKFLOWS = "workflows"


def cache_path(data_dir: Path, path: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory: `path` (relative paths inside the data dir), or ``<data-dir>/cache``."""
    return data_dir / (CACHE if path is None else path)


def workflow_store(data_dir: Path, name: str, store: str | os.PathLike[str] | None = None) -> Path:
    """The store of workflow `name`: `store` (relative paths inside the data dir), or
    ``<data-dir>/workflows/<name>``."""
    return data_dir / (Path(WORKFLOWS) / name if store is None else store)


def workflow_names(data_dir: Path) -> list[str]:
    """The workflows that have a store in ``<data-dir>/workflows``, sorted."""
    folder = data_dir / WORKFLOWS
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in folder.iterdir() if (entry / "data.mdb").is_file())
