"""Cache: key-value storage with TTL, a memory tier, sharing and crash safety."""

from __future__ import annotations

import datetime as dt
import math
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from zixir.cache import Cache, env, meta
from zixir.cache.flight import in_flight
from zixir.errors import (
    ArgumentTypeError,
    CorruptRecordError,
    EmptyKeyError,
    InvalidArgumentError,
    KeyTypeError,
    SerializationError,
)

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cache(tmp_path: Path) -> Any:
    with Cache(tmp_path / "c") as c:
        yield c


def test_values_keep_their_types_across_a_reopen(tmp_path: Path) -> None:
    value = {"when": dt.date(2026, 11, 22), "pair": (1, 2), "tags": {"a"}, 3: b"x"}
    with Cache(tmp_path) as c:
        c.put("k", value)
    with Cache(tmp_path) as c:
        assert c.get("k") == value and type(c.get("k")["pair"]) is tuple


def test_str_and_bytes_keys_are_different_and_long_keys_work(cache: Cache) -> None:
    cache.put("k", 1)
    cache.put(b"k", 2)
    long_key = "x" * 2000
    cache.put(long_key, 3)
    assert (cache.get("k"), cache.get(b"k"), cache.get(long_key)) == (1, 2, 3)
    assert cache.get("x" * 1999 + "y") is None
    assert sorted(map(repr, cache.keys())) == sorted(map(repr, ["k", b"k", long_key]))


def test_bad_keys_get_typed_errors(cache: Cache) -> None:
    with pytest.raises(KeyTypeError, match=r"^cache keys are str or bytes, got int 5$"):
        cache.put(5, 1)  # type: ignore[arg-type]
    with pytest.raises(EmptyKeyError, match=r"^cache keys cannot be empty$"):
        cache.get("")


def test_a_returned_value_is_the_callers_own(cache: Cache) -> None:
    cache.put("k", {"list": [1]})
    for _ in range(2):  # from LMDB, then from the memory tier
        got = cache.get("k")
        got["list"].append(2)
    assert cache.get("k") == {"list": [1]}


def test_ttl_expires_entries_and_survives_a_reopen(tmp_path: Path) -> None:
    clock = Clock()
    with Cache(tmp_path, default_ttl=10, clock=clock) as c:
        c.put("default", 1)
        c.put("short", 2, ttl=0.5)
        c.put("forever", 3, ttl=None)
        clock.now += 0.6
        assert c.get("short") is None and "short" not in c and c.get("default") == 1
    clock.now += 10
    with Cache(tmp_path, clock=clock) as c:
        assert c.get("default") is None and c.get("forever") == 3
        assert c.keys() == ["forever"]
    with Cache(tmp_path) as c, pytest.raises(ValueError, match=r"ttl must be None or > 0 seconds, got -1"):
        c.put("k", 1, ttl=-1)


def test_get_many_put_many_delete_invalidate_and_clear(cache: Cache) -> None:
    cache.put_many({"a:1": 1, "a:2": 2, "b:1": 3})
    assert cache.get_many(["a:1", "b:1", "zz"]) == {"a:1": 1, "b:1": 3}
    assert cache.delete("a:1") and not cache.delete("a:1")
    assert cache.invalidate(prefix="a:") == 1
    assert cache.invalidate(predicate=lambda k: k == "b:1") == 1
    cache.put("c", 1)
    cache.clear()
    assert cache.keys() == [] and cache.stats().entries == 0


def test_put_many_is_all_or_nothing(cache: Cache) -> None:
    with pytest.raises(SerializationError):
        cache.put_many({"ok": 1, "bad": object()})
    assert "ok" not in cache


def test_get_or_compute_runs_fn_once_for_concurrent_callers(cache: Cache) -> None:
    calls = []
    inside = threading.Event()
    release = threading.Event()

    def compute() -> str:
        calls.append(1)
        inside.set()
        release.wait(5)
        return "value"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_compute("k", compute))) for _ in range(6)]
    for t in threads:
        t.start()
    assert inside.wait(5)
    release.set()
    for t in threads:
        t.join(5)
    assert calls == [1] and results == ["value"] * 6
    assert in_flight() == 0  # flights are forgotten once done


def test_a_put_is_served_by_the_memory_tier_and_still_copied(cache: Cache) -> None:
    value = {"tags": ["a"]}
    cache.put("k", value)
    value["tags"].append("changed after the put")
    assert cache.stats().memory_entries == 1
    got = cache.get("k")
    assert got == {"tags": ["a"]}
    got["tags"].append("mine")
    assert cache.get("k") == {"tags": ["a"]}


def test_a_write_that_changes_nothing_never_hides_a_later_commit(tmp_path: Path) -> None:
    a, b = Cache(tmp_path), Cache(tmp_path)
    a.put("k", 1)
    assert a.get("k") == 1  # remembered by a
    assert a.delete("absent") is False  # LMDB commits nothing for this...
    a.invalidate(prefix="absent")
    b.put("k", 2)  # ...so this commit must not look like a's own
    assert a.get("k") == 2
    a.close()
    b.close()


def test_readers_never_keep_a_value_older_than_the_last_write(cache: Cache) -> None:
    done = threading.Event()
    stale: list[tuple[int, int]] = []

    def read() -> None:  # values only go up: a reader seeing one go down saw a stale tier
        last = -1
        while not done.is_set():
            got = cache.get("n", -1)
            if got < last:
                stale.append((last, got))
            last = got

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    for n in range(100):  # each put waits for the GIL from busy readers: keep it short
        cache.put("n", n)
    done.set()
    for reader in readers:
        reader.join(10)
    assert stale == [] and cache.get("n") == 99


def test_deleting_an_expired_entry_reports_it_absent(tmp_path: Path) -> None:
    clock = Clock()
    with Cache(tmp_path, clock=clock) as c:
        c.put("k", 1, ttl=1.0)
        clock.now += 2.0
        assert c.delete("k") is False
        assert c.stats().entries == 0


def test_two_caches_on_one_path_share_the_environment_and_never_serve_stale(tmp_path: Path) -> None:
    a, b = Cache(tmp_path), Cache(tmp_path)
    a.put("k", 1)
    assert b.get("k") == 1 and b.get("k") == 1  # now in b's memory tier
    a.put("k", 2)
    assert b.get("k") == 2
    a.close()
    assert b.get("k") == 2
    b.close()


def _run(code: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60, check=True,
        cwd=ROOT,
    )  # fmt: skip


def test_another_processs_write_is_seen_even_through_the_memory_tier(tmp_path: Path) -> None:
    with Cache(tmp_path) as c:
        c.put("k", "mine")
        assert c.get("k") == "mine"
        _run("import sys; from zixir.cache import Cache; Cache(sys.argv[1]).put('k', 'theirs')", tmp_path)
        assert c.get("k") == "theirs"


def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\nfrom zixir.cache import Cache\nc = Cache(sys.argv[1])\n"
         "for i in range(1_000_000):\n    c.put(f'k{i}', i)\n    print(i, flush=True)\n",
         str(tmp_path)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert writer.stdout is not None
    acknowledged = -1
    for line in writer.stdout:
        acknowledged = int(line)
        if acknowledged >= 300:
            break
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(10)
    writer.stdout.close()
    with Cache(tmp_path) as c:
        missing = [i for i in range(acknowledged + 1) if c.get(f"k{i}") != i]
        assert missing == []


def test_the_map_grows_when_full(tmp_path: Path) -> None:
    with Cache(tmp_path, map_size=1 << 20) as c:
        c.put_many({f"k{i}": "x" * 1000 for i in range(3000)})
        for i in range(3000):
            c.put(f"more{i}", i)
        assert c.get("k2999") == "x" * 1000 and c.get("more2999") == 2999
        assert c.stats().map_size > 1 << 20


def test_a_corrupt_record_names_its_key_and_leaves_the_rest_readable(cache: Cache) -> None:
    cache.put("good", 1)
    cache.put("bad", 2)
    shared = env.acquire(cache.path, 1 << 20, durable=False)  # the same environment
    try:
        shared.write(lambda txn: txn.put(b"sbad", b"\x00\x01garbage"), db=shared.open_db(b"kv"))
    finally:
        env.release(shared)
    with (
        Cache(cache.path, memory_items=0) as fresh,
        pytest.raises(CorruptRecordError, match=r"^the record of key 'bad' in the cache at .* is corrupt") as info,
    ):
        fresh.get("bad")
    assert info.value.key == "bad"
    assert cache.get("good") == 1


def test_stats_report_real_figures(cache: Cache) -> None:
    cache.put("k", 1)
    cache.get("k")
    cache.get("missing")
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.hit_rate, stats.entries) == (1, 1, 0.5, 1)
    assert stats.bytes_on_disk > 0 and stats.map_size >= 1 << 20


def test_writes_grow_a_full_map_while_other_threads_keep_reading(tmp_path: Path) -> None:
    # LMDB's abort after MapFullError waits for as long as other threads read, and a
    # remap under a running read is undefined: the cache keeps readers out of both.
    cache = Cache(tmp_path, map_size=1 << 20)
    cache.put("k", 1)
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                assert cache.get("k") == 1
                cache.get("g0:5")
            except BaseException as exc:
                errors.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for batch in range(4):  # few, large values: each put waits for the GIL from readers
            cache.put_many({f"g{batch}:{i}": "x" * 100_000 for i in range(10)})
    finally:
        stop.set()
        for reader in readers:
            reader.join(10)
    assert errors == [] and cache.stats().map_size > 1 << 20
    assert cache.get("g3:9") == "x" * 100_000
    cache.close()


_FULL_DISK = """
import os, resource, signal, sys
from zixir.cache import Cache, env, meta
from zixir.errors import CacheError
cache = Cache(sys.argv[1])
cache.put_many({f"k{i}": i for i in range(100)})
# The data file may grow by 1 MiB more: as good as a full disk to LMDB.
size = os.path.getsize(os.path.join(sys.argv[1], "data.mdb"))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + (1 << 20), resource.RLIM_INFINITY))
stored = 0
try:
    for i in range(1000):
        cache.put(f"big{i}", b"x" * 100_000)
        stored += 1
except CacheError as exc:
    print(stored, exc)
"""


def test_a_full_disk_is_a_cache_error_and_loses_nothing_committed(tmp_path: Path) -> None:
    out = _run(_FULL_DISK, tmp_path).stdout
    stored, message = out.split(" ", 1)
    assert 0 < int(stored) < 1000
    assert "(is the disk full?); this write was not stored, every earlier one was" in message
    with Cache(tmp_path) as c:
        assert [c.get(f"k{i}") for i in range(100)] == list(range(100))
        assert all(c.get(f"big{i}") == b"x" * 100_000 for i in range(int(stored)))


@pytest.mark.parametrize(
    ("arguments", "error", "argument", "message"),
    [
        (
            {"default_ttl": math.nan},
            InvalidArgumentError,
            "default_ttl",
            r"^default_ttl must be a finite number > 0, got nan$",
        ),
        (
            {"default_ttl": math.inf},
            InvalidArgumentError,
            "default_ttl",
            r"^default_ttl must be a finite number > 0, got inf$",
        ),
        ({"default_ttl": 0}, InvalidArgumentError, "default_ttl", r"^default_ttl must be a finite number > 0, got 0$"),
        ({"default_ttl": "60"}, ArgumentTypeError, "default_ttl", r"^default_ttl must be a number, got '60'$"),
        ({"memory_items": -1}, InvalidArgumentError, "memory_items", r"^memory_items must be an int >= 0, got -1$"),
        ({"memory_items": 10.0}, ArgumentTypeError, "memory_items", r"^memory_items must be an int, got 10.0$"),
        ({"memory_items": True}, ArgumentTypeError, "memory_items", r"^memory_items must be an int, got True$"),
        ({"map_size": 1000}, InvalidArgumentError, "map_size", r"^map_size must be an int >= 1048576, got 1000$"),
        ({"map_size": 1e9}, ArgumentTypeError, "map_size", r"^map_size must be an int, got 1000000000.0$"),
        ({"durable": "yes"}, ArgumentTypeError, "durable", r"^durable must be a bool, got 'yes'$"),
        ({"clock": 5.0}, ArgumentTypeError, "clock", r"^clock must be a callable returning seconds, got 5.0$"),
    ],
)
def test_bad_constructor_arguments_get_typed_errors_naming_them(
    tmp_path: Path, arguments: dict[str, Any], error: type[Exception], argument: str, message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        Cache(tmp_path / "c", **arguments)
    assert caught.value.argument == argument  # type: ignore[attr-defined]
    assert not (tmp_path / "c").exists()  # refused before anything was opened


def test_memory_tier_hits_are_copies_with_every_type_kept(cache: Cache) -> None:
    values: dict[str, Any] = {
        "nested": {"rows": [{"a": [1, (2, [3])]}, {"b": {"c": []}}], 7: (None, -0.0, 2**70)},
        "flat": [1, "two", b"3", 4.5, None, True, 1j],
        "tuple": ("a", ["mutable"]),
        "set": {"tags": {"x", "y"}, "when": dt.date(2026, 1, 2)},  # decoded, not copied
        "big": {"rows": [{"n": i, "tags": [i]} for i in range(100)]},  # decoded: too big to copy
    }
    cache.put_many(values)
    for _ in range(2):  # served from the put's entries, then from those read back
        for key, value in values.items():
            got = cache.get(key)
            assert got == value and _types(got) == _types(value), key
            got2 = cache.get(key)
            assert got2 is not got or (type(got) is tuple and not _mutable(got))
        assert cache.stats().memory_entries == len(values)  # every hit above was the tier's
        with Cache(cache.path) as other:  # a commit by another object empties the tier
            other.put("unrelated", 1)
    got = cache.get("nested")
    got["rows"][0]["a"][1][1].append("mine")
    got[7] = "mine"
    assert cache.get("nested") == values["nested"]


def _types(value: Any) -> Any:
    """The value's shape with the type of every element (a set's repr order may vary)."""
    if isinstance(value, dict):
        return dict, sorted((repr(k), _types(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value), [_types(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return type(value), sorted(repr(_types(v)) for v in value)
    return type(value), repr(value)


def _mutable(value: Any) -> bool:
    return any(type(v) in (list, dict, set) or (type(v) is tuple and _mutable(v)) for v in value)


def test_without_readable_meta_pages_the_tier_checks_a_read_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(meta.MetaPages, "open", classmethod(lambda cls, path, env: None))
    a, b = Cache(tmp_path), Cache(tmp_path)
    a.put("k", {"v": [1]})
    assert b.get("k") == {"v": [1]} and b.get("k") == {"v": [1]}  # now in b's memory tier
    a.put("k", {"v": [2]})
    assert b.get("k") == {"v": [2]}
    _run("import sys; from zixir.cache import Cache; Cache(sys.argv[1]).put('k', 'theirs')", tmp_path)
    assert a.get("k") == "theirs" and b.get("k") == "theirs"
    assert b.stats().memory_entries == 1
    shared = env.acquire(tmp_path, 1 << 20, durable=False)
    assert shared.meta is None  # the staleness checks above opened read transactions
    env.release(shared)
    a.close()
    b.close()
