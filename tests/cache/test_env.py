"""The shared LMDB environment's write path, used directly (without a Cache), as any other
store of named databases would use it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import lmdb
import pytest

from zixir.cache import env
from zixir.errors import CacheError


@pytest.fixture
def shared(tmp_path: Path) -> Any:
    opened = env.acquire(tmp_path / "env", 1 << 20, durable=False)
    yield opened
    env.release(opened)


def test_named_databases_are_written_and_read_through_the_environment(shared: env.SharedEnv) -> None:
    checkpoints, letters = shared.open_db(b"wf:checkpoints"), shared.open_db(b"wf:letters")
    assert shared.open_db(b"wf:checkpoints") is not None  # opening again is fine

    def fill(txn: Any) -> str:
        txn.put(b"run-1", b"step-a")
        txn.put(b"entry-1", b"failed", db=letters)
        return "filled"

    assert shared.write(fill, db=checkpoints) == "filled"
    assert shared.read(lambda txn: txn.get(b"run-1"), db=checkpoints) == b"step-a"
    assert shared.read(lambda txn: txn.get(b"entry-1", db=letters)) == b"failed"
    assert shared.read(lambda txn: txn.get(b"run-1", db=letters)) is None


def test_a_write_that_does_not_fit_grows_the_map_and_runs_again(shared: env.SharedEnv) -> None:
    db = shared.open_db(b"big")
    attempts = []

    def fill(txn: Any) -> None:
        attempts.append(1)
        for i in range(3000):
            txn.put(b"k%d" % i, b"x" * 1000)

    shared.write(fill, db=db)
    assert len(attempts) > 1  # the first attempt hit MapFullError and was aborted
    assert shared.env.info()["map_size"] > 1 << 20
    assert shared.read(lambda txn: txn.stat(db)["entries"], db=db) == 3000


def test_a_failing_fill_stores_nothing_and_its_error_passes_through(shared: env.SharedEnv) -> None:
    db = shared.open_db(b"d")
    shared.write(lambda txn: txn.put(b"kept", b"1"), db=db)

    def fill(txn: Any) -> None:
        txn.put(b"lost", b"2")
        raise LookupError("bad input")

    with pytest.raises(LookupError, match="^bad input$"):
        shared.write(fill, db=db)
    assert shared.read(lambda txn: (txn.get(b"kept"), txn.get(b"lost")), db=db) == (b"1", None)


def test_a_storage_failure_is_a_cache_error_naming_the_path(shared: env.SharedEnv) -> None:
    db = shared.open_db(b"d")

    def fill(txn: Any) -> None:
        raise lmdb.DiskError("No space left on device")

    message = (
        rf"^cannot write to the cache at '{shared.path}': No space left on device \(is the disk "
        r"full\?\); this write was not stored, every earlier one was$"
    )
    with pytest.raises(CacheError, match=message):
        shared.write(fill, db=db)


def test_on_commit_gets_each_commits_id_in_order_under_the_write_lock(shared: env.SharedEnv) -> None:
    db = shared.open_db(b"d")
    seen: list[tuple[int, bool]] = []

    def record(committed: int) -> None:
        seen.append((committed, shared.write_lock.locked()))

    def write(n: int) -> None:
        for i in range(20):
            shared.write(lambda txn, i=i: txn.put(b"%d:%d" % (n, i), b""), db=db, on_commit=record)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    ids = [committed for committed, _ in seen]
    assert len(ids) == 60 and ids == sorted(ids) and len(set(ids)) == 60
    assert all(locked for _, locked in seen)


def test_the_last_release_closes_the_environment(tmp_path: Path) -> None:
    first = env.acquire(tmp_path, 1 << 20, durable=False)
    second = env.acquire(tmp_path, 1 << 20, durable=False)
    assert first is second and str(tmp_path.resolve()) in env.open_paths()
    env.release(first)
    assert str(tmp_path.resolve()) in env.open_paths()
    env.release(second)
    assert str(tmp_path.resolve()) not in env.open_paths()


def test_the_meta_pages_give_the_last_committed_transaction_of_any_process(
    shared: env.SharedEnv,
) -> None:
    assert shared.meta is not None  # the layout of this platform's LMDB is the known one
    db = shared.open_db(b"d")
    for i in range(3):  # alternating between the two meta pages
        shared.write(lambda txn, i=i: txn.put(b"k", b"%d" % i), db=db)
        assert shared.meta.last_txnid() == shared.env.info()["last_txnid"]
    before = shared.meta.last_txnid()
    code = (
        "import sys, lmdb\n"
        "env = lmdb.open(sys.argv[1], max_dbs=64)\n"
        "with env.begin(write=True) as txn:\n"
        "    txn.put(b'x', b'from another process')\n"
    )
    subprocess.run([sys.executable, "-c", code, shared.path], check=True, timeout=60)
    assert shared.meta.last_txnid() == before + 1 == shared.env.info()["last_txnid"]
