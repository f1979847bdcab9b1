"""The public surface: every module declares __all__, every name imports, none twice."""

from __future__ import annotations
import __future__

import builtins
import importlib
import pkgutil
from types import ModuleType

import pytest

import zixir

PUBLIC_MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(zixir.__path__, prefix="zixir.")
    if not any(part.startswith("_") for part in info.name.split("."))
)


def test_the_package_exports_exactly_its_all() -> None:
    for name in zixir.__all__:  # lazy names land in the module's namespace on first access
        getattr(zixir, name)
    # Submodules imported elsewhere (zixir.demo) appear as attributes; they are not exports.
    public = {
        name
        for name, value in vars(zixir).items()
        if not name.startswith("_") and not isinstance(value, (__future__._Feature, ModuleType))
    }
    assert public == {
        name for name in zixir.__all__ if not name.startswith("_") and not isinstance(getattr(zixir, name), ModuleType)
    }
    assert len(zixir.__all__) == len(set(zixir.__all__))
    for name in zixir.__all__:
        value = getattr(zixir, name)
        if isinstance(value, ModuleType):
            assert value.__name__ == f"zixir.{name}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_module_declares_all_and_every_name_in_it_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert isinstance(module.__all__, list), f"{module_name} must declare __all__"
    assert len(module.__all__) == len(set(module.__all__)), f"{module_name}.__all__ repeats a name"
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ names {name!r}, which is missing"


def test_every_error_is_a_zixir_error_and_the_builtin_it_resembles() -> None:
    from zixir import errors

    generic = {Exception, BaseException, object}
    for name in errors.__all__:
        error = getattr(errors, name)
        assert issubclass(error, zixir.ZixirError), name
        if error is not zixir.ZixirError:
            resembles = [c for c in error.__mro__ if vars(builtins).get(c.__name__) is c]
            assert set(resembles) - generic, f"{name} should also inherit a builtin error"


def test_each_public_name_is_defined_in_one_module_only() -> None:
    owners: dict[str, str] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            home = getattr(obj, "__module__", module_name)
            if home == module_name:
                assert name not in owners, f"{name} is defined in {owners.get(name)} and {module_name}"
                owners[name] = module_name


def test_an_unknown_attribute_of_the_package_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"^module 'zixir' has no attribute 'Supervisr'$"):
        zixir.Supervisr  # noqa: B018


def test_dir_of_the_package_lists_every_export_before_it_is_loaded() -> None:
    assert set(zixir.__all__) <= set(dir(zixir))


def test_every_error_in_zixir_errors_is_exported_at_the_top_level() -> None:
    from zixir import errors

    for name in errors.__all__:
        assert getattr(zixir, name) is getattr(errors, name)
        assert name in zixir.__all__
