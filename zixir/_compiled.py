"""Which build of a module runs: compiled by Cython when built, or its Python source.

``ZIXIR_PUREPYTHON=1`` asks for the pure-Python code everywhere, for tests and debugging.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType
from typing import Literal

__all__ = ["PUREPYTHON", "implementation", "prefer_source"]

PUREPYTHON = os.environ.get("ZIXIR_PUREPYTHON", "") not in ("", "0")


def prefer_source(name: str) -> None:
    """Under ``ZIXIR_PUREPYTHON``, imports module `name` from its ``.py`` source even
    where a compiled build of that source sits beside it (Python would prefer the build).

    Call it from the package's ``__init__`` before anything imports `name`.
    """
    if not PUREPYTHON or name in sys.modules:
        return
    found = importlib.util.find_spec(name)
    if found is None or found.origin is None:
        raise ModuleNotFoundError(
            f"no module named {name!r} to load from source (ZIXIR_PUREPYTHON)", name=name
        )
    package, _, leaf = name.rpartition(".")
    source = os.path.join(os.path.dirname(found.origin), f"{leaf}.py")
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no Python source for {name!r} at {source!r}", name=name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    setattr(sys.modules[package], leaf, module)


def implementation(module: ModuleType) -> Literal["cython", "python"]:
    """"cython" if `module` is a compiled build, "python" if it runs from source."""
    loader = getattr(module.__spec__, "loader", None)
    return "cython" if isinstance(loader, importlib.machinery.ExtensionFileLoader) else "python"
