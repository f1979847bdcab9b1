"""Which build of a module runs: compiled by Cython when built, or its Python source.

``ZIXIR_PUREPYTHON=1`` asks for the pure-Python code everywhere, for tests and debugging.
A checkout whose extensions were never built runs the Python code too, and says so once
with a RuntimeWarning that names the fix.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import threading
import warnings
from types import ModuleType
from typing import Literal

from loguru import logger

from zixir.observability import events

__all__ = ["PUREPYTHON", "implementation", "import_compiled", "prefer_source", "warn_unbuilt"]

PUREPYTHON = os.environ.get("ZIXIR_PUREPYTHON", "") not in ("", "0")

_warned = False
_warned_lock = threading.Lock()


def warn_unbuilt(name: str) -> None:
    """Warns, once per process, that compiled module `name` is not built.

    One warning covers every extension: they are built together, so the fix is the same.
    Nothing is said under ``ZIXIR_PUREPYTHON``, where the Python code was asked for.
    """
    global _warned
    if PUREPYTHON:
        return
    with _warned_lock:
        if _warned:
            return
        _warned = True
    warnings.warn(
        f"Zixir's compiled extensions are not built ({name} is missing), so it runs its "
        "pure-Python code (slower, same results): "
        "build the extensions with `make` or `pip install -e .`, or set ZIXIR_PUREPYTHON=1 "
        "to choose the pure-Python code on purpose",
        RuntimeWarning,
        stacklevel=3,
    )


def import_compiled(name: str) -> ModuleType | None:
    """Imports the compiled module `name`, or returns None (after `warn_unbuilt`) when it is absent.

    Under ``ZIXIR_PUREPYTHON`` it is not imported at all. A build that is present but fails
    to load (a wrong ABI, a missing symbol) raises its ImportError: that is a broken
    install, not a missing one.
    """
    if PUREPYTHON:
        return None
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # `from zixir import _engine` would turn this into a plain ImportError that names
        # the package; import_module keeps the missing module's own name.
        if exc.name != name:
            raise
    logger.bind(event=events.ENGINE_PURE_PYTHON, module=name).debug("{} is not built; using the pure-Python code", name)
    warn_unbuilt(name)
    return None


def prefer_source(name: str) -> None:
    """Under ``ZIXIR_PUREPYTHON``, imports module `name` from its ``.py`` source even
    where a compiled build of that source sits beside it (Python would prefer the build).

    Call it from the package's ``__init__`` before anything imports `name`.
    """
    if not PUREPYTHON or name in sys.modules:
        return
    found = importlib.util.find_spec(name)
    if found is None or found.origin is None:
        raise ModuleNotFoundError(f"no module named {name!r} to load from source (ZIXIR_PUREPYTHON)", name=name)
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
    """ "cython" if `module` is a compiled build, "python" if it runs from source.

    A module running from source outside ``ZIXIR_PUREPYTHON`` means its build is missing:
    that is reported once through `warn_unbuilt`.
    """
    loader = getattr(module.__spec__, "loader", None)
    if isinstance(loader, importlib.machinery.ExtensionFileLoader):
        return "cython"
    warn_unbuilt(module.__name__)
    return "python"
