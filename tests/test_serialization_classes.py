"""How `loads` finds the classes that bytes name: never by importing a module the bytes pick."""

from __future__ import annotations

import enum
import subprocess
import sys
import textwrap
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest

from zixir import serialization
from zixir.errors import ArgumentTypeError, InvalidArgumentError, SerializationError
from zixir.serialization import FORMAT_VERSION, allow_modules, allowed_modules, dumps, loads

HEADER = bytes((0xC1, FORMAT_VERSION))
ENUM_CODE, DATACLASS_CODE = 13, 14  # pinned: part of the stored format


class Shade(enum.Enum):
    DARK = 1


class NotAnEnum:
    DARK = 1


def forged_enum(path: str, key: object = "A") -> bytes:
    return HEADER + msgpack.packb(msgpack.ExtType(ENUM_CODE, msgpack.packb([path, key])))


def run_python(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.fixture
def fresh_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of an importable module, not yet imported, that records its import in a file."""
    name = f"zixir_test_enums_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            f"""
            import enum, pathlib
            pathlib.Path({str(tmp_path / "imported")!r}).write_text("yes")

            class Tint(enum.Enum):
                A = 1
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_enum_naming_a_module_that_exits_on_import_does_not_end_the_process() -> None:
    # lib2to3.__main__ calls sys.exit() when imported: loads used to import it and exit.
    child = run_python(
        """
        import msgpack
        from zixir.errors import SerializationError
        from zixir.serialization import loads
        data = bytes((0xC1, 1)) + msgpack.packb(msgpack.ExtType(13, msgpack.packb(["lib2to3.__main__:X", "A"])))
        try:
            loads(data)
        except SerializationError as error:
            print("refused:", error)
        """
    )
    assert child.returncode == 0, child.stderr
    assert "refused: cannot import the enum class 'lib2to3.__main__:X'" in child.stdout
    assert "allow_modules('lib2to3.__main__')" in child.stdout


def test_a_module_neither_imported_nor_allowed_is_not_imported(fresh_module: str, tmp_path: Path) -> None:
    message = (
        rf"^cannot import the enum class '{fresh_module}:Tint': loads\(\) imports no module the data "
        rf"names, and {fresh_module} is not imported; import it before loading, or call "
        rf"zixir.serialization.allow_modules\('{fresh_module}'\)$"
    )
    with pytest.raises(SerializationError, match=message):
        loads(forged_enum(f"{fresh_module}:Tint"))
    assert fresh_module not in sys.modules
    assert not (tmp_path / "imported").exists()


def test_an_allowed_module_is_imported_to_find_the_enum(fresh_module: str, tmp_path: Path) -> None:
    allow_modules(fresh_module)
    assert fresh_module in allowed_modules()
    member = loads(forged_enum(f"{fresh_module}:Tint"))
    assert (tmp_path / "imported").read_text() == "yes"
    assert member is sys.modules[fresh_module].Tint.A


def test_allowing_a_module_does_not_allow_its_submodules_or_parent() -> None:
    allow_modules("zixir_test_allowed_parent")
    for path in ("zixir_test_allowed_parent.child:E", "zixir_test:E"):
        with pytest.raises(SerializationError, match="imports no module the data names"):
            loads(forged_enum(path))


def test_an_allowed_module_that_fails_to_import_is_a_serialization_error(tmp_path: Path) -> None:
    (tmp_path / "zixir_test_exits_on_import.py").write_text("raise SystemExit(3)\n")
    child = run_python(
        """
        import msgpack
        from zixir.errors import SerializationError
        from zixir.serialization import allow_modules, loads
        allow_modules("zixir_test_exits_on_import")
        data = bytes((0xC1, 1)) + msgpack.packb(
            msgpack.ExtType(13, msgpack.packb(["zixir_test_exits_on_import:E", "A"]))
        )
        try:
            loads(data)
        except SerializationError as error:
            print("refused:", error)
        """,
        cwd=tmp_path,
    )
    assert child.returncode == 0, child.stderr
    assert "refused: cannot import the enum class 'zixir_test_exits_on_import:E': SystemExit: 3" in child.stdout


def test_an_imported_module_is_read_without_running_its_getattr() -> None:
    # A module-level __getattr__ (PEP 562) can run anything, e.g. import submodules lazily.
    asked: list[str] = []
    module = types.ModuleType("zixir_test_lazy_module")
    module.__getattr__ = lambda name: asked.append(name) or Shade  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        with pytest.raises(SerializationError, match=r"'zixir_test_lazy_module:Shade'.*module has no class Shade"):
            loads(forged_enum("zixir_test_lazy_module:Shade", "DARK"))
    finally:
        del sys.modules[module.__name__]
    assert asked == []


@pytest.mark.parametrize(
    "path",
    [f"{__name__}:NotAnEnum", f"{__name__}:pytest", f"{__name__}:HEADER", "builtins:int", "os:system"],
)
def test_a_name_that_is_not_an_enum_class_is_refused(path: str) -> None:
    with pytest.raises(SerializationError, match=r"as an enum class, but it is not one|has no class"):
        loads(forged_enum(path, "DARK"))


def test_an_enum_of_an_imported_module_still_loads() -> None:
    assert loads(dumps(Shade.DARK)) is Shade.DARK
    assert loads(forged_enum(f"{__name__}:Shade", "DARK")) is Shade.DARK


def test_a_registered_name_is_not_taken_for_an_enum_or_an_enum_for_a_dataclass() -> None:
    import dataclasses

    @serialization.register(name="tests.classes.Plain")
    @dataclasses.dataclass
    class Plain:
        x: int

    with pytest.raises(SerializationError):
        loads(forged_enum("tests.classes.Plain", "x"))
    forged = HEADER + msgpack.packb(msgpack.ExtType(DATACLASS_CODE, msgpack.packb([f"{__name__}:Shade", {}])))
    with pytest.raises(SerializationError, match="not registered"):
        loads(forged)


@pytest.mark.parametrize(
    ("names", "error"),
    [
        ((1,), ArgumentTypeError),
        (("",), InvalidArgumentError),
        (("a..b",), InvalidArgumentError),
        (("a:b",), InvalidArgumentError),
        (("1abc",), InvalidArgumentError),
    ],
)
def test_allow_modules_refuses_what_is_not_a_module_name(names: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error, match="allow_modules"):
        allow_modules(*names)  # type: ignore[arg-type]
