"""Configuration files: a tree from TOML, and every mistake named by file and dotted key."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.support import ROOT, DaemonProcess
from zixir.actors import Supervisor
from zixir.cache import CacheActor
from zixir.daemon.config import load_config
from zixir.daemon.exit_codes import ExitCode
from zixir.errors import ConfigError

GOOD = """
[root]
strategy = "rest_for_one"
max_restarts = 2

[[children]]
name = "cache"
class = "zixir:CacheActor"
kwargs = { path = "cache", sweep_interval = 30.0 }

[[children]]
name = "workers"
strategy = "one_for_one"
[[children.children]]
name = "w1"
class = "tests.daemon.sample_app:Marker"
kwargs = { directory = "/tmp", label = "w1" }
restart = "transient"
start_timeout = 2.0

[app]
greeting = "hello"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "app.toml"
    path.write_text(text)
    return path


def test_a_good_file_becomes_child_specs_with_cache_paths_in_the_data_dir(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), tmp_path / "data")
    assert config.root == {"strategy": "rest_for_one", "max_restarts": 2}
    cache, workers = config.children
    assert (cache.name, cache.actor_class, cache.kwargs["path"]) == ("cache", CacheActor, str(tmp_path / "data/cache"))
    assert workers.actor_class is Supervisor and workers.kwargs["strategy"] == "one_for_one"
    (w1,) = workers.kwargs["children"]
    assert (w1.name, w1.restart, w1.start_timeout) == ("w1", "transient", 2.0)
    assert config.app == {"greeting": "hello"}


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (
            ('restart = "transient"', 'restart = "sometimes"'),
            "children[1].children[0].restart",
            "must be one of permanent, transient, temporary",
        ),
        (
            ('strategy = "rest_for_one"', 'strategy = "all"'),
            "root.strategy",
            "must be one of one_for_one, one_for_all, rest_for_one",
        ),
        (("max_restarts = 2", "max_restarts = -1"), "root.max_restarts", "must be a whole number >= 0, got -1"),
        (
            ('class = "zixir:CacheActor"', 'class = "zixir:Nope"'),
            "children[0].class",
            "cannot import 'zixir:Nope': AttributeError: module 'zixir' has no attribute 'Nope'",
        ),
        (
            ('class = "zixir:CacheActor"', 'class = "zixir:Cache"'),
            "children[0].class",
            "'zixir:Cache' is not a zixir.Actor subclass",
        ),
        (("sweep_interval = 30.0", "sweep_interval = 30.0, default_ttl = -5"), "children[0].kwargs.default_ttl", None),
        (
            ('label = "w1"', 'label = "w1", colour = "red"'),
            "children[1].children[0].kwargs",
            "Marker does not take these arguments: got an unexpected keyword argument 'colour'",
        ),
        (("start_timeout = 2.0", "start_timeout = 0"), "children[1].children[0].start_timeout", None),
        (
            ('name = "w1"', 'name = "cache"\nrestrat = "x"'),
            "children[1].children[0].restrat",
            "unknown key; expected one of name, class, args, kwargs, restart, shutdown, start_timeout, placement",
        ),
    ],
)
def test_each_mistake_names_the_file_and_the_key(
    tmp_path: Path, change: tuple[str, str], key: str, problem: str | None
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as raised:
        load_config(path, tmp_path)
    assert raised.value.key == key and raised.value.file == str(path)
    assert str(raised.value).startswith(f"{path}: {key}: ")
    if problem is not None:
        assert str(raised.value) == f"{path}: {key}: {problem}"


def test_duplicate_names_missing_children_and_bad_toml(tmp_path: Path) -> None:
    twice = GOOD.replace('name = "workers"', 'name = "cache"')
    with pytest.raises(ConfigError, match=r"children\[1\].name: 'cache' is taken by children\[0\]$"):
        load_config(write(tmp_path, twice), tmp_path)
    with pytest.raises(ConfigError, match=r"children: missing: list the root's children as \[\[children\]\] tables$"):
        load_config(write(tmp_path, "[app]\nx = 1\n"), tmp_path)
    with pytest.raises(ConfigError, match=r"app.toml: not valid TOML: "):
        load_config(write(tmp_path, "[root\n"), tmp_path)
    with pytest.raises(ConfigError, match=r"missing.toml: cannot read it: No such file or directory$"):
        load_config(tmp_path / "missing.toml", tmp_path)


def test_check_validates_and_exits_and_a_mistake_is_one_line_with_exit_2(tmp_path: Path) -> None:
    def check(path: Path) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "zixir.cli",
            "run",
            "--config",
            str(path),
            "--check",
            "--data-dir",
            str(tmp_path),
        ]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})

    good = check(write(tmp_path, GOOD))
    assert (good.returncode, good.stdout) == (0, f"{tmp_path / 'app.toml'}: ok (2 children)\n")
    bad = check(write(tmp_path, GOOD.replace('restart = "transient"', 'restart = "sometimes"')))
    assert bad.returncode == ExitCode.USAGE
    assert bad.stderr == (
        f"zixir: error: {tmp_path / 'app.toml'}: children[1].children[0].restart: "
        "must be one of permanent, transient, temporary\n"
    )


def test_a_daemon_runs_the_tree_of_its_config_file(tmp_path: Path) -> None:
    config = write(tmp_path, GOOD.replace('directory = "/tmp"', f'directory = "{tmp_path}"'))
    daemon = DaemonProcess("--config", str(config), data_dir=tmp_path / "data")
    assert "STATUS=running: 2 children" in daemon.expect("READY=1")
    assert (tmp_path / "data" / "cache" / "data.mdb").exists()
    daemon.signal(signal.SIGTERM)
    code, err = daemon.finish()
    assert code == ExitCode.OK, err
    assert (tmp_path / "exited-w1").read_text() == "shutdown"


WORKFLOWS = """
[[children]]
name = "flows"
class = "zixir:WorkflowActor"
workflows = ["tests.daemon.sample_flows:etl"]
[[children.schedules]]
workflow = "etl"
cron = "*/5 * * * *"
tz = "Europe/Berlin"
inputs = { day = "today" }
missed = "catch_up"
name = "NAME"
"""


def test_a_workflow_actor_hosts_workflows_by_import_path_with_their_schedules(tmp_path: Path) -> None:
    from tests.daemon.sample_flows import etl

    (spec,) = load_config(write(tmp_path, WORKFLOWS.replace("NAME", "every-five")), tmp_path).children
    assert spec.kwargs["workflows"] == [etl]
    (schedule,) = [s for s in etl.schedules if s.name == "every-five"]
    assert (schedule.cron, schedule.missed) == ("*/5 * * * *", "catch_up")


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('cron = "*/5 * * * *"', 'cron = "every morning"'), "children[0].schedules[0].cron"),
        (('missed = "catch_up"', 'missed = "sometimes"'), "children[0].schedules[0].missed"),
        (('workflow = "etl"', 'workflow = "nope"'), "children[0].schedules[0].workflow"),
        (('missed = "catch_up"', 'missed = "skip"\nwhen = "now"'), "children[0].schedules[0].when"),
        (("sample_flows:etl", "sample_flows:not_a_workflow"), "children[0].workflows[0]"),
        (('class = "zixir:WorkflowActor"', 'class = "zixir:CacheActor"'), "children[0].workflows"),
    ],
)
def test_workflow_and_schedule_mistakes_name_their_key(tmp_path: Path, change: tuple[str, str], key: str) -> None:
    path = write(tmp_path, WORKFLOWS.replace("NAME", f"bad-{abs(hash(key))}").replace(*change))
    with pytest.raises(ConfigError) as raised:
        load_config(path, tmp_path)
    assert raised.value.key == key, str(raised.value)


def test_a_ray_table_is_read_and_checked_key_by_key(tmp_path: Path) -> None:
    table = '\n[ray]\naddress = "10.0.0.5:6379"\nnamespace = "app"\nnum_cpus = 2\nlog_to_driver = false\n'
    config = load_config(write(tmp_path, GOOD + table), tmp_path)
    assert config.ray == {"address": "10.0.0.5:6379", "namespace": "app", "num_cpus": 2, "log_to_driver": False}
    assert load_config(write(tmp_path, GOOD), tmp_path).ray is None
    mistakes = {
        'address = ""': ("ray.address", "must be a non-empty string, got ''"),
        "num_cpus = -1": ("ray.num_cpus", "must be a number >= 0, got -1"),
        "num_gpus = true": ("ray.num_gpus", "must be a number >= 0, got True"),
        'runtime_env = "pip"': ("ray.runtime_env", "must be a table, got 'pip'"),
        'log_to_driver = "no"': ("ray.log_to_driver", "must be true or false, got 'no'"),
        "port = 1": (
            "ray.port",
            "unknown key; expected one of address, namespace, num_cpus, num_gpus, runtime_env, log_to_driver",
        ),
    }
    for line, (key, problem) in mistakes.items():
        path = write(tmp_path, GOOD + f"\n[ray]\n{line}\n")
        with pytest.raises(ConfigError) as raised:
            load_config(path, tmp_path)
        assert (raised.value.key, str(raised.value)) == (key, f"{path}: {key}: {problem}")


def test_a_childs_placement_table_becomes_a_ray_placement_and_its_mistakes_name_the_key(tmp_path: Path) -> None:
    from zixir.ray import RayPlacement

    def placed(table: str) -> Path:
        return write(tmp_path, GOOD.replace('restart = "transient"', f'restart = "transient"\nplacement = {table}'))

    (_, workers) = load_config(placed('{ num_cpus = 1, memory = "2GB" }'), tmp_path).children
    (w1,) = workers.kwargs["children"]
    assert w1.placement == RayPlacement(num_cpus=1, memory="2GB")
    mistakes = {
        "{ num_cpus = -1 }": ("children[1].children[0].placement.num_cpus", "RayPlacement num_cpus must be a finite"),
        "{ cpus = 1 }": ("children[1].children[0].placement.cpus", "unknown key; expected one of num_cpus, num_gpus"),
        '"gpu"': ("children[1].children[0].placement", "must be a table, got 'gpu'"),
    }
    for table, (key, problem) in mistakes.items():
        path = placed(table)
        with pytest.raises(ConfigError) as raised:
            load_config(path, tmp_path)
        assert raised.value.key == key and str(raised.value).startswith(f"{path}: {key}: {problem}")
