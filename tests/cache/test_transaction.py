"""Cache.transact: atomic read-modify-write across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from zixir import Cache
from zixir.errors import CacheError, SerializationError


def test_a_transaction_reads_its_own_writes_and_commits_them_together(tmp_path: Path) -> None:
    with Cache(tmp_path / "c") as cache:
        cache.put("a", 1)

        def move(txn):  # type: ignore[no-untyped-def]
            txn.put("b", txn.get("a") + 1)
            assert txn.get("b") == 2
            return txn.delete("a")

        assert cache.transact(move) is True
        assert cache.get("a") is None and cache.get("b") == 2
        assert cache.transact(lambda txn: txn.get("missing", "default")) == "default"


def test_a_failing_transaction_stores_nothing(tmp_path: Path) -> None:
    with Cache(tmp_path / "c") as cache:
        cache.put("a", 1)

        def broken(txn):  # type: ignore[no-untyped-def]
            txn.put("a", 2)
            txn.put("b", object())

        with pytest.raises(SerializationError):
            cache.transact(broken)
        assert cache.get("a") == 1 and "b" not in cache


def test_increments_from_threads_and_processes_are_all_kept(tmp_path: Path) -> None:
    path = tmp_path / "c"
    code = textwrap.dedent(f"""
        from zixir import Cache
        with Cache({str(path)!r}) as cache:
            for _ in range(200):
                cache.transact(lambda txn: txn.put("n", txn.get("n", 0) + 1))
    """)
    with Cache(path) as cache:
        cache.get("n")  # fill the memory tier, which other processes' commits must not fool
        procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]

        def bump() -> None:
            for _ in range(200):
                cache.transact(lambda txn: txn.put("n", txn.get("n", 0) + 1))

        threads = [threading.Thread(target=bump) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
        assert cache.get("n") == 800


def test_a_closed_cache_refuses_transactions(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    cache.close()
    with pytest.raises(CacheError, match=r"is closed$"):
        cache.transact(lambda txn: None)
