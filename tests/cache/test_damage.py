"""A damaged cache file never kills or leaks: truncation, damaged pages, failed opens.

Each case runs in a child process where the failure it guards against (SIGBUS) would kill
the process: the child's return code tells a crash from a clean error.
"""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import lmdb
import pytest

from zixir.cache import env
from zixir.cache.cache import Cache
from zixir.errors import CacheError, CorruptRecordError

_PAGE_SIZE_AT, _MAIN_ROOT_AT, _TXNID_AT = 40, 128, 144  # of a meta page, 64-bit LMDB


def _filled(path: Path, count: int = 2000) -> Path:
    """A closed cache at `path` with `count` entries of 3 kB: a file of ~2000 pages."""
    with Cache(path, memory_items=0) as cache:
        cache.put_many({f"k{i}": "x" * 3000 for i in range(count)})
    return path / "data.mdb"


def _in_child(path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Runs `code` with `cache` = Cache(path) in a new interpreter; prints the error's
    type and message if opening or the code raises."""
    script = textwrap.dedent(
        """
        import sys
        from zixir.cache.cache import Cache
        try:
            cache = Cache(sys.argv[1], memory_items=0)
        {code}
        except Exception as exc:
            print(type(exc).__name__, exc)
        """
    ).format(code=textwrap.indent(code, "    "))
    return subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)


def _meta(data: bytes, offset: int) -> tuple[int, int]:
    """(main database root, txn id) of the meta page at `offset`."""
    root, txnid = struct.unpack_from("=Q8xQ", data, offset + _MAIN_ROOT_AT)
    return root, txnid


def test_a_truncated_file_is_refused_at_open_instead_of_killing_the_process(tmp_path: Path) -> None:
    data = _filled(tmp_path)
    os.truncate(data, data.stat().st_size // 2)
    child = _in_child(tmp_path, 'print("read", cache.get("k1999") is not None)')
    assert child.returncode == 0, f"killed by signal {-child.returncode}: {child.stderr}"
    assert child.returncode != -signal.SIGBUS
    assert child.stdout.startswith(f"CacheError the cache file {str(data)!r} is damaged: it is ")
    assert "it was cut short" in child.stdout and "Restore it from a copy, or delete it" in child.stdout


@pytest.mark.parametrize("size", [100, 4096 + 50, 6000])
def test_a_file_cut_inside_its_meta_pages_is_refused(tmp_path: Path, size: int) -> None:
    data = _filled(tmp_path, 200)
    os.truncate(data, size)
    child = _in_child(tmp_path, 'print("read", cache.get("k1"))')
    assert child.returncode == 0, f"killed by signal {-child.returncode}: {child.stderr}"
    assert child.stdout.startswith("CacheError ") and str(data) in child.stdout


def test_a_file_cut_to_nothing_opens_empty_with_a_warning(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    data = _filled(tmp_path, 10)
    os.truncate(data, 0)
    with Cache(tmp_path) as cache:
        assert cache.get("k1") is None and cache.keys() == []
        cache.put("k1", "again")
        assert cache.get("k1") == "again"
    warnings = [r for r in records if r["level"].name == "WARNING"]
    assert len(warnings) == 1 and str(data) in warnings[0]["message"] and "empty" in warnings[0]["message"]


def test_a_file_ending_in_pages_no_tree_uses_still_opens(tmp_path: Path) -> None:
    """Pages a commit allocated and freed again are never written: such a file is shorter
    than its meta page counts, and is whole."""
    db_env = lmdb.open(str(tmp_path), map_size=1 << 30, max_dbs=4)
    db = db_env.open_db(b"kv")
    short, rng = False, random.Random(2)
    for r in range(200):
        with db_env.begin(write=True, db=db) as txn:  # grows the tree, every other time empties it
            for i in range(rng.randint(10, 2000)):
                txn.put(b"t%06d" % i, b"v" * rng.choice([10, 300, 5000]))
            for i in range(2000 if r % 2 else 0):
                txn.delete(b"t%06d" % i)
        head = (tmp_path / "data.mdb").read_bytes()[:8192]
        page = struct.unpack_from("=I", head, _PAGE_SIZE_AT)[0]
        last = max((struct.unpack_from("=QQ", head, o + 136) for o in (0, page)), key=lambda m: m[1])[0]
        if (tmp_path / "data.mdb").stat().st_size < (last + 1) * page:
            short = True
            break
    db_env.close()
    assert short, "no commit left the file shorter than its meta page counts"
    env.release(env.acquire(tmp_path, 1 << 20, durable=False))  # opens without an error


def _damage_root_of_kv(data: Path) -> None:
    """Overwrites the header of every page but the meta pages and the main tree's root."""
    raw = bytearray(data.read_bytes())
    page = struct.unpack_from("=I", raw, _PAGE_SIZE_AT)[0]
    main_root = max(_meta(raw, 0), _meta(raw, page), key=lambda m: m[1])[0]
    for number in range(2, len(raw) // page):
        if number != main_root:
            raw[number * page + 10 : number * page + 12] = b"\xee\xee"  # the page's flags
    data.write_bytes(bytes(raw))


def test_a_damaged_page_is_a_cache_error_naming_the_path(tmp_path: Path) -> None:
    _damage_root_of_kv(_filled(tmp_path, 200))
    child = _in_child(tmp_path, 'print("read", cache.get("k1"))')
    assert child.returncode == 0, f"killed by signal {-child.returncode}: {child.stderr}"
    assert child.stdout.startswith(f"CacheError reading the cache at {str(tmp_path)!r} failed: ")


def test_every_lmdb_error_of_a_damaged_file_is_a_chained_cache_error(tmp_path: Path) -> None:
    data = _filled(tmp_path, 200)
    raw = bytearray(data.read_bytes())
    page = struct.unpack_from("=I", raw, _PAGE_SIZE_AT)[0]
    main_root = max(_meta(raw, 0), _meta(raw, page), key=lambda m: m[1])[0]
    raw[main_root * page + 10 : main_root * page + 12] = b"\xee\xee"
    data.write_bytes(bytes(raw))
    with pytest.raises(CacheError, match=r"its file is damaged \(.*CORRUPTED.*\); restore .* from a copy") as caught:
        Cache(tmp_path)
    assert isinstance(caught.value.__cause__, lmdb.Error) and str(tmp_path) in str(caught.value)


def test_a_file_that_is_not_lmdb_is_a_cache_error(tmp_path: Path) -> None:
    (tmp_path / "data.mdb").write_bytes(b"not a cache" * 1000)
    with pytest.raises(CacheError, match="File is not an LMDB file") as caught:
        Cache(tmp_path)
    assert isinstance(caught.value.__cause__, lmdb.InvalidError)


_FAILED_OPENS = """
import os, sys
from zixir.cache import env
from zixir.cache.cache import Cache
from zixir.errors import CacheError, CorruptRecordError
path = sys.argv[1]
before = len(os.listdir("/proc/self/fd"))
for _ in range(5):
    try:
        Cache(path)
    except CacheError:
        pass
    else:
        sys.exit("opened")
print(before, len(os.listdir("/proc/self/fd")), os.path.realpath(path) in env.open_paths())
os.remove(os.path.join(path, "data.mdb"))  # once the file is gone, the path opens as a new cache
with Cache(path) as cache:
    cache.put("k", 1)
    print(cache.get("k"))
"""


@pytest.mark.parametrize("damage", ["truncated", "damaged page", "not lmdb"])
def test_a_failed_open_releases_what_it_took(tmp_path: Path, damage: str) -> None:
    """Counts the file descriptors of a process, and the paths it has open, before and
    after failed opens (in a child: before the fix a truncated file killed the process)."""
    data = _filled(tmp_path, 300)
    if damage == "truncated":
        os.truncate(data, data.stat().st_size // 2)
    elif damage == "damaged page":
        raw = bytearray(data.read_bytes())
        page = struct.unpack_from("=I", raw, _PAGE_SIZE_AT)[0]
        root = max(_meta(raw, 0), _meta(raw, page), key=lambda m: m[1])[0]
        raw[root * page + 10 : root * page + 12] = b"\xee\xee"
        data.write_bytes(bytes(raw))
    else:
        data.write_bytes(b"\0" * 20000)
    child = subprocess.run(
        [sys.executable, "-c", _FAILED_OPENS, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, f"exit {child.returncode}: {child.stderr}"
    before, after, still_open, value = child.stdout.split()
    assert after == before and still_open == "False"
    assert value == "1"


def test_a_write_failing_for_a_full_disk_leaves_the_cache_usable(tmp_path: Path) -> None:
    with Cache(tmp_path) as cache:
        cache.put("before", 1)
        shared = env.acquire(tmp_path, 1 << 20, durable=False)  # the cache's environment
        try:

            def fill(txn: Any) -> None:
                txn.put(b"lost", b"")
                raise lmdb.DiskError("No space left on device")

            with pytest.raises(CacheError, match="is the disk full") as caught:
                shared.write(fill)
            assert isinstance(caught.value.__cause__, lmdb.DiskError)
        finally:
            env.release(shared)
        cache.put("after", 2)
        assert (cache.get("before"), cache.get("after")) == (1, 2)


def test_a_damaged_lock_file_is_rebuilt_by_a_process_opening_the_path_alone(tmp_path: Path) -> None:
    _filled(tmp_path, 200)
    (tmp_path / "lock.mdb").write_bytes(os.urandom(9000))
    child = _in_child(tmp_path, 'print("read", cache.get("k199") == "x" * 3000)')
    assert (child.returncode, child.stdout) == (0, "read True\n"), child.stderr


def _with_damaged_records(path: Path) -> Cache:
    """A cache at `path` holding "good" and three records damaged on disk."""
    cache = Cache(path)
    cache.put("good", 1)
    cache.put("gone", 2, ttl=1e-9)  # expired at once: a sweep deletes it
    shared = env.acquire(path, 1 << 20, durable=False)
    kv = shared.open_db(b"kv")
    never = struct.pack(">dI", float("inf"), 0)
    damaged = {
        b"sshort": b"\x01\x02",  # too short for the header
        b"scut": struct.pack(">dI", float("inf"), 40) + b"s",  # its full key cut off
        b"snested": never + b"\x00\x01" + b"\x91" * 100_000 + b"\xc0",  # 100,000 nested lists
    }
    shared.write(lambda txn: [txn.put(k, v) for k, v in damaged.items()], db=kv)
    env.release(shared)
    return cache


def test_damaged_records_leave_keys_and_sweeps_working(tmp_path: Path) -> None:
    with _with_damaged_records(tmp_path) as cache:
        assert cache.keys() == ["good", "nested"]  # "nested" has a readable header
        assert cache.sweep() == 1  # "gone"; the damaged records are kept
        for key in ("short", "nested"):
            with pytest.raises(CorruptRecordError) as caught:
                cache.get(key)
            assert caught.value.key == key
        with pytest.raises(CorruptRecordError):
            cache.get_many(["good", "short"])
        assert cache.get("good") == 1 and cache.delete("short") is False
        cache.put("short", "stored again")
        assert cache.get("short") == "stored again"
