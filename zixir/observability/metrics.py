"""Prometheus metrics for every Zixir component, through prometheus_client's registry.

Components create their metrics with `counter` at import; applications read them with
`exposition` (or serve prometheus_client's default registry themselves).
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, generate_latest

__all__ = ["counter", "exposition"]


def counter(name: str, documentation: str, labels: tuple[str, ...]) -> Counter:
    """Creates a Prometheus counter, or returns the one already registered under `name`.

    A second import of a module (importlib.reload) must find its metric, not fail on it.

    Args:
        name: The metric's name, without the ``_total`` suffix.
        documentation: The metric's help text.
        labels: The metric's label names.

    Returns:
        The new counter, or the registered counter of that name.

    Raises:
        ValueError: `name` clashes with a registered metric that is not a counter of that name.
    """
    try:
        return Counter(name, documentation, labels)
    except ValueError:
        existing = REGISTRY._names_to_collectors.get(f"{name}_total")
        if isinstance(existing, Counter):
            return existing
        raise


def exposition() -> str:
    """Every registered metric in the Prometheus text format."""
    return generate_latest(REGISTRY).decode("utf-8")
