"""``zixir cache stats|keys|get`` on a cache made here, as tables and as JSON."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import flows
from tests.cli.support import ROOT, zixir, zixir_json
from zixir import Cache
from zixir.app import App


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir whose cache holds two str keys, a bytes key, a dataclass and an expired entry."""
    now = [1000.0]
    with Cache(App(tmp_path).path("cache"), clock=lambda: now[0]) as cache:
        cache.put("user:1", {"name": "ada", "tags": ("a", "b")})
        cache.put("user:2", {"name": "bob", "tags": ()})
        cache.put(b"raw", b"\x00\x01")
        cache.put("point", flows.Point(1, 2))
        cache.put("gone", 1, ttl=0.5)  # expired long before the command's clock reads it
    return tmp_path


def test_stats_count_entries_live_and_expired(data_dir: Path) -> None:
    stats = zixir_json("cache", "stats", "--data-dir", str(data_dir))
    assert stats["path"] == str((data_dir / "cache").resolve())
    assert (stats["entries"], stats["live"], stats["expired"]) == (5, 4, 1)
    assert stats["bytes_on_disk"] > 0 and stats["map_size"] >= 1 << 20
    table = zixir("cache", "stats", "--data-dir", str(data_dir)).stdout.splitlines()
    assert table[0].split() == ["cache", stats["path"]]
    assert ["entries", "5"] in [line.split() for line in table] and ["expired", "1"] in [line.split() for line in table]


def test_keys_all_or_by_prefix_str_and_bytes(data_dir: Path) -> None:
    assert sorted(zixir("cache", "keys", "--data-dir", str(data_dir)).stdout.splitlines()) == [
        "b'raw'", "point", "user:1", "user:2",
    ]  # fmt: skip
    assert zixir_json("cache", "keys", "user:", "--data-dir", str(data_dir)) == ["user:1", "user:2"]
    assert zixir_json("cache", "keys", "r", "--bytes", "--data-dir", str(data_dir)) == [{"bytes": "726177"}]
    limited = zixir("cache", "keys", "user:", "--limit", "1", "--data-dir", str(data_dir)).stdout.splitlines()
    assert limited == ["user:1", "(first 1 keys; raise --limit for more)"]


def test_get_shows_a_value_with_its_types_and_as_json(data_dir: Path) -> None:
    shown = zixir("cache", "get", "user:1", "--data-dir", str(data_dir)).stdout
    assert shown == "{'name': 'ada', 'tags': ('a', 'b')}\n"
    assert zixir_json("cache", "get", "user:1", "--data-dir", str(data_dir)) == {
        "key": "user:1", "value": {"name": "ada", "tags": ["a", "b"]},
    }  # fmt: skip
    assert zixir("cache", "get", "raw", "--bytes", "--data-dir", str(data_dir)).stdout == "b'\\x00\\x01'\n"
    got = zixir_json("cache", "get", "point", "--app", "tests.cli.flows", "--data-dir", str(data_dir))
    assert got["value"] == {"x": 1, "y": 2}


def test_a_class_not_registered_in_the_process_needs_app(data_dir: Path) -> None:
    def command(*extra: str) -> subprocess.CompletedProcess[str]:  # a process that never imported tests.cli.flows
        args = [sys.executable, "-m", "zixir.cli", "cache", "get", "point", "--data-dir", str(data_dir), *extra]
        return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)

    refused = command()
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        "zixir: error: the value of 'point' holds a class this process has not registered ("
    )
    assert refused.stderr.endswith("pass --app with the module that registers it\n")
    shown = command("--app", "tests.cli.flows")
    assert (shown.returncode, shown.stdout) == (0, "Point(x=1, y=2)\n")


def test_a_missing_key_or_cache_is_one_line(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = (data_dir / "cache").resolve()
    assert zixir("cache", "get", "nope", "--data-dir", str(data_dir), code=2).stderr == (
        f"zixir: error: the cache at {cache} has no live entry 'nope' (absent or expired)\n"
    )
    empty = tmp_path_factory.mktemp("empty")
    assert zixir("cache", "stats", "--data-dir", str(empty), code=2).stderr == (
        f"zixir: error: no cache at {empty.resolve()}/cache: give the daemon's --data-dir, or the cache's "
        "directory with --cache\n"
    )
