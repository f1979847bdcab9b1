"""The one place Zixir imports Ray: a clear error naming the extra when it is missing."""

from __future__ import annotations

from types import ModuleType

__all__ = ["require_ray"]


def require_ray(feature: str) -> ModuleType:
    """Imports and returns the `ray` module.

    Args:
        feature: What needs Ray, for the error message ("RayPlacement", "executor='ray'").

    Raises:
        ImportError: Ray is not installed; the message names the extra to install.
    """
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"{feature} needs Ray ({exc}); install it with: pip install 'zixir[ray]'") from exc
    module: ModuleType = ray
    return module
