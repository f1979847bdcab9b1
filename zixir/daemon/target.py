"""The application's tree: from ``package.module:build``, or from a configuration file."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from zixir.app import App
from zixir.daemon.config import DaemonConfig

__all__ = ["TargetError", "build_root", "load_target"]


class TargetError(Exception):
    """The target cannot be imported, is not a build function, or built no tree."""


def load_target(target: str) -> Callable[..., Any]:
    """Imports ``package.module:build`` and checks that it is a function of zero or one argument.

    Raises:
        TargetError: it cannot be imported or called that way.
    """
    module_name, colon, name = target.partition(":")
    if not colon or not module_name or not name:
        raise TargetError(f"target must be 'package.module:function', got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise TargetError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    build: Callable[..., Any] | None = getattr(module, name, None)
    if build is None or not callable(build):
        raise TargetError(f"{module_name!r} has no function {name!r}")
    try:
        parameters = inspect.signature(build).parameters
    except (TypeError, ValueError):
        return build  # a builtin or C function: called without arguments
    required = [
        p
        for p in parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(required) > 1:
        raise TargetError(f"{target} must take no argument or one (the App), not {len(required)}")
    return build


def build_root(build: Callable[..., Any] | None, config: DaemonConfig | None, app: App) -> Any:
    """Starts the tree: ``build()`` or ``build(app)``, or the configuration's children.

    Returns:
        The root supervisor's ref.

    Raises:
        TargetError: `build` returned neither a Supervisor ref nor a list of ChildSpecs.
        Exception: whatever `build` or the tree's start raised (a ChildStartError...).
    """
    from zixir.actors import ChildSpec, Supervisor

    options = dict(config.root) if config is not None else {}
    options.setdefault("name", "root")
    if build is None:
        assert config is not None
        return Supervisor.start(children=list(config.children), **options)
    takes_app = _takes_an_argument(build)
    built = build(app) if takes_app else build()
    if isinstance(built, (list, tuple)) and all(isinstance(spec, ChildSpec) for spec in built):
        return Supervisor.start(children=list(built), **options)
    ref_class = getattr(built, "actor_class", None)
    if isinstance(ref_class, type) and issubclass(ref_class, Supervisor):
        return built
    raise TargetError(
        f"build returned {type(built).__name__}; it must return a Supervisor's ref (Supervisor.start(...)) "
        "or a list of ChildSpecs"
    )


def _takes_an_argument(build: Callable[..., Any]) -> bool:
    try:
        parameters = list(inspect.signature(build).parameters.values())
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
