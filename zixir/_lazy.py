"""Package attributes that import their module on first use (PEP 562), so that importing a
package costs only what its caller reaches."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["attributes"]


def attributes(
    namespace: dict[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for names defined in its submodules.

    Args:
        namespace: The package's ``globals()``; a loaded name is stored there, so later
            lookups skip ``__getattr__``.
        homes: Each public name -> the submodule that defines it, relative to the package.

    Returns:
        The module-level ``__getattr__`` and ``__dir__`` to assign in the package.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
