"""The classes `loads` may build: registered dataclasses, and enums found without running
code the bytes choose (modules already imported, or imported because the application allows them).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import re
import sys
import threading
import types
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, overload

from zixir.errors import ArgumentTypeError, InvalidArgumentError, SerializationError
from zixir.serialization._format import clip, qualified, shown

__all__ = ["Registration", "allow_modules", "allowed_modules", "by_class", "by_name", "find_enum", "register"]

_C = TypeVar("_C", bound=type)


class Registration(NamedTuple):
    cls: type
    name: str
    fields: tuple[str, ...]  # in definition order, so the bytes are deterministic
    init_fields: frozenset[str]
    other_fields: tuple[str, ...]  # init=False: set after __init__ runs


_lock = threading.Lock()
by_name: dict[str, Registration] = {}
by_class: dict[type, Registration] = {}
_allowed: frozenset[str] = frozenset()  # replaced whole, so readers need no lock

_MODULE_NAME = re.compile(r"[^\W\d]\w*(\.[^\W\d]\w*)*")
# Read a module's or class's own namespace through the base types' descriptors, so neither a
# module __getattr__ nor an overridden __getattribute__ or metaclass property runs.
_module_dict: Callable[[object], dict[str, Any]] = vars(types.ModuleType)["__dict__"].__get__
_class_dict: Callable[[object], types.MappingProxyType[str, Any]] = vars(type)["__dict__"].__get__


@overload
def register(cls: _C, name: str | None = None) -> _C: ...
@overload
def register(cls: None = None, name: str | None = None) -> Callable[[_C], _C]: ...
def register(cls: _C | None = None, name: str | None = None) -> _C | Callable[[_C], _C]:
    """Lets `dumps` store instances of a dataclass; also usable as a class decorator.

    ``register(Point)``, ``@register`` and ``@register(name="point")`` all work. The name
    is stored in the bytes, so keep it stable. Registering a redefinition of the same class
    (same module and qualname, e.g. after a module reload) replaces the old registration.

    Args:
        cls: The dataclass. Omit it to get a decorator that registers under ``name``.
        name: Name stored in the bytes; defaults to ``"module:QualName"``.

    Returns:
        ``cls`` unchanged, or, if ``cls`` was omitted, a decorator.

    Raises:
        SerializationError: ``cls`` is not a dataclass, ``name`` is taken by another
            class, or ``cls`` is already registered under another name.
    """
    if cls is None:
        return lambda c: register(c, name)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise SerializationError(
            f"register() takes a dataclass, got {cls!r}; store other classes by converting "
            "them to supported types, or with allow_pickle=True"
        )
    name = f"{cls.__module__}:{cls.__qualname__}" if name is None else name
    if not isinstance(name, str) or not name:
        raise SerializationError(f"a registration name must be a non-empty str, not {name!r}")
    fields = dataclasses.fields(cls)
    registration = Registration(
        cls,
        name,
        tuple(f.name for f in fields),
        frozenset(f.name for f in fields if f.init),
        tuple(f.name for f in fields if not f.init),
    )
    with _lock:
        taken = by_name.get(name)
        if taken is not None and taken.cls is not cls:
            if qualified(taken.cls) != qualified(cls):
                raise SerializationError(
                    f"cannot register {qualified(cls)} as {name!r}: the name is taken by "
                    f"{qualified(taken.cls)}; pass another name="
                )
            del by_class[taken.cls]  # a redefinition, e.g. after a module reload
        current = by_class.get(cls)
        if current is not None and current.name != name:
            raise SerializationError(
                f"{qualified(cls)} is already registered as {current.name!r}; a class has one name"
            )
        by_name[name] = by_class[cls] = registration
    return cls


def allow_modules(*names: str) -> None:
    """Lets `loads` import these modules, when not yet imported, to find enum classes.

    `loads` finds an enum class by the ``module:QualName`` path stored with each member. It
    never imports a module just because bytes name it: the module must already be imported,
    or be allowed here. Allow the modules that define your enums if a process may load them
    before importing them. Each name allows that exact module, not its submodules.

    Args:
        names: Full module names, such as ``"myapp.models"``.

    Raises:
        ArgumentTypeError: a name is not a str.
        InvalidArgumentError: a name is not a dotted Python module name.
    """
    global _allowed
    for name in names:
        if not isinstance(name, str):
            raise ArgumentTypeError(f"allow_modules() takes module names as str, got {name!r}", "names")
        if not _MODULE_NAME.fullmatch(name):
            raise InvalidArgumentError(
                f'allow_modules() takes dotted module names such as "myapp.models", got {name!r}', "names"
            )
    with _lock:
        _allowed = _allowed | frozenset(names)


def allowed_modules() -> frozenset[str]:
    """The modules `allow_modules` has allowed `loads` to import."""
    return _allowed


def find_enum(path: object) -> type[enum.Enum]:
    """The enum class at ``path`` ("module:QualName"), found without running code it chooses.

    Raises:
        SerializationError: the path is malformed, its module is neither imported nor
            allowed (or fails to import), or it does not name an enum class.
    """
    if not isinstance(path, str):
        raise SerializationError(f"data names {shown(path)} as an enum class; an enum path is a str")
    module_name, _, qualname = path.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        if module_name not in _allowed:
            raise SerializationError(
                f"cannot import the enum class {shown(path)}: loads() imports no module the data "
                f"names, and {clip(module_name)} is not imported; import it before loading, "
                f"or call zixir.serialization.allow_modules({shown(module_name)})"
            )
        try:
            module = importlib.import_module(module_name)
        except (Exception, SystemExit) as exc:  # an allowed module can still fail, even exit
            raise SerializationError(
                f"cannot import the enum class {shown(path)}: {type(exc).__name__}: {exc}"
            ) from exc
    if not issubclass(type(module), types.ModuleType):
        raise SerializationError(f"cannot import the enum class {shown(path)}: sys.modules holds no module there")
    found: object = module
    namespace: Any = _module_dict(module)
    owner = module_name
    for part in qualname.split("."):
        found = namespace.get(part)
        if not issubclass(type(found), type):
            raise SerializationError(
                f"cannot find the enum class {shown(path)}: {clip(owner)} has no class {clip(part)}"
            )
        namespace = _class_dict(found)
        owner = f"{owner}.{part}"
    if not issubclass(found, enum.Enum):  # type: ignore[arg-type]
        raise SerializationError(f"data names {shown(path)} as an enum class, but it is not one")
    return found  # type: ignore[return-value]
