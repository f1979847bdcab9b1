"""A daemon's tree from a TOML file: validated, with errors that name the file and the key.

```toml
[root]                      # optional: the root supervisor's options
strategy = "rest_for_one"
max_restarts = 3
max_seconds = 5.0

[[children]]
name = "cache"
class = "zixir:CacheActor"   # "module:Class" or "module.Class"
kwargs = { path = "cache" }  # a CacheActor's relative path is inside the data dir

[[children]]
name = "workers"             # a child with children is a supervisor
strategy = "one_for_one"
[[children.children]]
name = "scorer"
class = "app.scoring:Scorer"
restart = "permanent"
placement = { num_gpus = 1 }   # a RayPlacement: runs on Ray (see [ray])

[[children]]
name = "flows"
class = "zixir:WorkflowActor"
workflows = ["app.flows:etl"]  # Workflow objects by import path
[[children.schedules]]         # wf.schedule(...) of a listed workflow
workflow = "etl"
cron = "*/5 * * * *"

[ray]                        # optional: join a Ray cluster before the tree starts
address = "10.0.0.5:6379"    # omitted: a local cluster; `zixir run --ray-address` overrides it
namespace = "app"

[app]                        # free-form: handed to build(app) as app.config
```
"""

from __future__ import annotations

import importlib
import inspect
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zixir.errors import ArgumentTypeError, ConfigError, InvalidArgumentError

__all__ = ["DaemonConfig", "load_config"]

_RESTARTS = ("permanent", "transient", "temporary")
_STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")
_TOP_KEYS = ("root", "children", "ray", "app")
#: The ``[ray]`` table: `zixir.ray.connect`'s address and the ``ray.init`` options a daemon sets.
_RAY_KEYS = ("address", "namespace", "num_cpus", "num_gpus", "runtime_env", "log_to_driver")
_SUPERVISOR_KEYS = ("name", "strategy", "max_restarts", "max_seconds")
_CHILD_KEYS = ("name", "class", "args", "kwargs", "restart", "shutdown", "start_timeout", "placement")
_PLACEMENT_KEYS = ("num_cpus", "num_gpus", "memory", "resources", "node", "runtime_env")
_WORKFLOW_KEYS = ("workflows", "schedules")  # a WorkflowActor's
_SCHEDULE_KEYS = ("workflow", "every", "cron", "tz", "inputs", "missed", "max_catch_up", "overlap", "name")


@dataclass(frozen=True)
class DaemonConfig:
    """A loaded configuration file.

    Attributes:
        file: Where it was read from.
        root: The root supervisor's options (``Supervisor`` keyword arguments).
        children: The root's children, as ChildSpecs (empty when the tree comes from code).
        app: The free-form ``[app]`` table, for ``build(app)``.
        ray: The ``[ray]`` table (`zixir.ray.connect`'s address and options), or None
            when the file has none.
    """

    file: Path
    root: dict[str, Any] = field(default_factory=dict)
    children: tuple[Any, ...] = ()
    app: dict[str, Any] = field(default_factory=dict)
    ray: dict[str, Any] | None = None


def load_config(file: str | Path, data_dir: Path, *, code: bool = False) -> DaemonConfig:
    """Reads and checks `file`; relative cache paths are resolved inside `data_dir`.

    Args:
        file: The TOML file.
        data_dir: The daemon's data dir.
        code: The tree comes from a build function: the file must not list children.

    Raises:
        ConfigError: the file is missing, is not TOML, or a key is wrong (the message
            names the file and the dotted key).
    """
    path = Path(file)
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}", str(path), "") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", str(path), "") from exc
    reader = _Reader(path, data_dir)
    reader.known(document, "", _TOP_KEYS)
    root = reader.table(document, "root")
    reader.known(root, "root", _SUPERVISOR_KEYS)
    children = reader.children(document.get("children", []), "children")
    if code and children:
        raise reader.error("children", "the tree comes from the build function given; drop children or the target")
    if not code and not children:
        raise reader.error("children", "missing: list the root's children as [[children]] tables")
    return DaemonConfig(
        file=path,
        root=reader.supervisor_options(root, "root"),
        children=children,
        app=reader.table(document, "app"),
        ray=reader.ray(document) if "ray" in document else None,
    )


class _Reader:
    """Walks the document, turning each wrong key into a ConfigError that names it."""

    def __init__(self, file: Path, data_dir: Path) -> None:
        self.file = file
        self.data_dir = data_dir

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: {key}: {problem}", str(self.file), key)

    def known(self, table: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> None:
        for name in table:
            if name not in allowed:
                where = f"{key}.{name}" if key else name
                raise self.error(where, f"unknown key; expected one of {', '.join(allowed)}")

    def table(self, parent: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, got {value!r}")
        return value

    def ray(self, document: Mapping[str, Any]) -> dict[str, Any]:
        table = self.table(document, "ray")
        self.known(table, "ray", _RAY_KEYS)
        for name, value in table.items():
            where = f"ray.{name}"
            if name in ("address", "namespace"):
                if not isinstance(value, str) or not value.strip():
                    raise self.error(where, f"must be a non-empty string, got {value!r}")
            elif name in ("num_cpus", "num_gpus"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise self.error(where, f"must be a number >= 0, got {value!r}")
            elif name == "runtime_env" and not isinstance(value, dict):
                raise self.error(where, f"must be a table, got {value!r}")
            elif name == "log_to_driver" and not isinstance(value, bool):
                raise self.error(where, f"must be true or false, got {value!r}")
        return dict(table)

    def supervisor_options(self, table: Mapping[str, Any], key: str) -> dict[str, Any]:
        options = {name: table[name] for name in _SUPERVISOR_KEYS if name in table}
        if "strategy" in options and options["strategy"] not in _STRATEGIES:
            raise self.error(f"{key}.strategy", f"must be one of {', '.join(_STRATEGIES)}")
        restarts = options.get("max_restarts", 0)
        if not isinstance(restarts, int) or isinstance(restarts, bool) or restarts < 0:
            raise self.error(f"{key}.max_restarts", f"must be a whole number >= 0, got {restarts!r}")
        seconds = options.get("max_seconds", 1.0)
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 < seconds < float("inf"):
            raise self.error(f"{key}.max_seconds", f"must be a number of seconds > 0, got {seconds!r}")
        if "name" in options and not isinstance(options["name"], str):
            raise self.error(f"{key}.name", f"must be a string, got {options['name']!r}")
        return options

    def children(self, entries: Any, key: str) -> tuple[Any, ...]:
        if not isinstance(entries, list):
            raise self.error(key, f"must be an array of tables ([[{key}]]), got {entries!r}")
        specs = [self.child(entry, f"{key}[{index}]") for index, entry in enumerate(entries)]
        names = [spec.name for spec in specs]
        for index, name in enumerate(names):
            if names.index(name) != index:
                raise self.error(f"{key}[{index}].name", f"{name!r} is taken by {key}[{names.index(name)}]")
        return tuple(specs)

    def child(self, entry: Any, key: str) -> Any:
        from zixir.actors import ChildSpec, Supervisor

        if not isinstance(entry, dict):
            raise self.error(key, f"must be a table, got {entry!r}")
        if "name" not in entry:
            raise self.error(f"{key}.name", "missing: every child needs a unique name")
        if "children" in entry:  # a supervisor
            self.known(entry, key, (*_SUPERVISOR_KEYS, "children", "restart", "shutdown", "start_timeout"))
            options = self.supervisor_options(entry, key)
            options["children"] = list(self.children(entry["children"], f"{key}.children"))
            options.pop("name")
            actor_class: Any = Supervisor
            args: tuple[Any, ...] = ()
            kwargs: dict[str, Any] = options
        else:
            hosts = any(name in entry for name in _WORKFLOW_KEYS)
            self.known(entry, key, (*_CHILD_KEYS, *_WORKFLOW_KEYS) if hosts else _CHILD_KEYS)
            if "class" not in entry:
                raise self.error(f"{key}.class", "missing: the actor class, as 'module:Class'")
            actor_class = self.actor_class(entry["class"], f"{key}.class")
            args = tuple(self.typed(entry, key, "args", list, []))
            kwargs = dict(self.typed(entry, key, "kwargs", dict, {}))
            if hosts:
                kwargs["workflows"] = self.workflows(actor_class, entry, key)
            kwargs = self.in_data_dir(actor_class, kwargs)
            self.check_arguments(actor_class, args, kwargs, key)
        restart = entry.get("restart", "permanent")
        if restart not in _RESTARTS:
            raise self.error(f"{key}.restart", f"must be one of {', '.join(_RESTARTS)}")
        options = {name: entry[name] for name in ("shutdown", "start_timeout") if name in entry}
        if "placement" in entry:
            options["placement"] = self.placement(entry, f"{key}.placement")
        try:
            return ChildSpec(entry["name"], actor_class, args=args, kwargs=kwargs, restart=restart, **options)
        except (InvalidArgumentError, ArgumentTypeError) as exc:
            raise self.error(f"{key}.{exc.argument}", str(exc)) from exc

    def placement(self, entry: Mapping[str, Any], key: str) -> Any:
        """A child's ``placement`` table as a `RayPlacement` (it imports no Ray)."""
        from zixir.ray.placement import RayPlacement

        table = self.typed(entry, key.rpartition(".")[0], "placement", dict, {})
        self.known(table, key, _PLACEMENT_KEYS)
        try:
            return RayPlacement(**table)
        except (InvalidArgumentError, ArgumentTypeError) as exc:
            raise self.error(f"{key}.{exc.argument}", str(exc)) from exc

    def typed(self, entry: Mapping[str, Any], key: str, name: str, kind: type, default: Any) -> Any:
        value = entry.get(name, default)
        if not isinstance(value, kind):
            raise self.error(f"{key}.{name}", f"must be {'an array' if kind is list else 'a table'}, got {value!r}")
        return value

    def actor_class(self, target: Any, key: str) -> type:
        from zixir.actors import Actor

        if not isinstance(target, str) or not target.strip():
            raise self.error(key, f"must be 'module:Class', got {target!r}")
        found = self.imported(target, key)
        if not (isinstance(found, type) and issubclass(found, Actor)):
            raise self.error(key, f"{target!r} is not a zixir.Actor subclass")
        return found

    def imported(self, target: Any, key: str) -> Any:
        """What ``"module:name"`` (or ``"module.name"``) names."""
        if not isinstance(target, str) or not target.strip():
            raise self.error(key, f"must be 'module:name', got {target!r}")
        module_name, _, name = target.rpartition(":") if ":" in target else target.rpartition(".")
        try:
            return getattr(importlib.import_module(module_name), name)
        except Exception as exc:
            raise self.error(key, f"cannot import {target!r}: {type(exc).__name__}: {exc}") from exc

    def check_arguments(self, actor_class: type, args: tuple[Any, ...], kwargs: dict[str, Any], key: str) -> None:
        """The arguments fit the class; Zixir's own actors also check their options' values."""
        from zixir.cache import CacheActor
        from zixir.cache.cache import check_options
        from zixir.sandbox.actor import SandboxActor, check_sandbox_options

        try:
            inspect.signature(actor_class).bind(*args, **kwargs)
        except TypeError as exc:
            raise self.error(f"{key}.kwargs", f"{actor_class.__name__} does not take these arguments: {exc}") from exc
        try:
            if issubclass(actor_class, SandboxActor):
                check_sandbox_options(kwargs)
            elif issubclass(actor_class, CacheActor):
                check_options(**{k: v for k, v in kwargs.items() if k not in ("path", "sweep_interval")})
        except (InvalidArgumentError, ArgumentTypeError) as exc:
            raise self.error(f"{key}.kwargs.{exc.argument}", str(exc)) from exc

    def workflows(self, actor_class: type, entry: Mapping[str, Any], key: str) -> list[Any]:
        """A WorkflowActor's ``workflows`` (import paths to Workflow objects), with their ``schedules`` set."""
        from zixir.workflow import Workflow, WorkflowActor

        if not issubclass(actor_class, WorkflowActor):
            raise self.error(f"{key}.workflows", f"only a WorkflowActor hosts workflows, not {actor_class.__name__}")
        if "workflows" in entry.get("kwargs", {}):
            raise self.error(f"{key}.kwargs.workflows", "give the workflows once: as workflows = [...] only")
        paths = self.typed(entry, key, "workflows", list, [])
        hosted = {}
        for index, path in enumerate(paths):
            found = self.imported(path, f"{key}.workflows[{index}]")
            if not isinstance(found, Workflow):
                raise self.error(f"{key}.workflows[{index}]", f"{path!r} is not a zixir.Workflow")
            hosted[found.name] = found
        for index, schedule in enumerate(self.typed(entry, key, "schedules", list, [])):
            where = f"{key}.schedules[{index}]"
            if not isinstance(schedule, dict):
                raise self.error(where, f"must be a table, got {schedule!r}")
            self.known(schedule, where, _SCHEDULE_KEYS)
            options = dict(schedule)
            wf = hosted.get(options.pop("workflow", None))
            if wf is None:
                raise self.error(f"{where}.workflow", f"must name one of the workflows listed: {sorted(hosted)}")
            try:
                wf.schedule(**options)
            except (InvalidArgumentError, ArgumentTypeError) as exc:
                raise self.error(f"{where}.{exc.argument}", str(exc)) from exc
            except ValueError as exc:
                raise self.error(where, str(exc)) from exc
        return list(hosted.values())

    def in_data_dir(self, actor_class: type, kwargs: dict[str, Any]) -> dict[str, Any]:
        from zixir.cache import CacheActor

        path = kwargs.get("path")
        if issubclass(actor_class, CacheActor) and isinstance(path, str) and not Path(path).is_absolute():
            kwargs["path"] = str(self.data_dir / path)
        return kwargs
