"""Cache shared by real processes: concurrent writers, map growth, readers killed mid-read.

Children are started with the "spawn" context (never fork: an LMDB environment must not
cross a fork) and report through a pipe; nothing here sleeps to wait, every wait is on an
event, a barrier, a pipe or a join, with a timeout.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import pytest

from zixir.cache import Cache, env

CTX = multiprocessing.get_context("spawn")
WAIT = 60.0  # upper bound of any wait; each test normally takes a few seconds
WRITERS = 4
PER_WRITER = 300
PREWARMED = 50  # keys per writer stored and read by the parent before the writers start


# ---- children ---------------------------------------------------------------------------


@dataclass
class Child:
    process: Any  # multiprocessing.context.SpawnProcess
    reports: Connection

    def result(self) -> Any:
        """What the child's target returned; its traceback as a failure if it raised."""
        name = self.process.name
        if not self.reports.poll(WAIT):
            raise AssertionError(f"{name} reported nothing within {WAIT} s")
        try:
            status, value = self.reports.recv()
        except EOFError:
            self.process.join(WAIT)
            code = self.process.exitcode
            raise AssertionError(f"{name} died (exit code {code}) without reporting") from None
        if status == "error":
            raise AssertionError(f"{name} failed:\n{value}")
        self.process.join(WAIT)
        assert self.process.exitcode == 0, f"{name} exited with {self.process.exitcode}"
        return value


class Children:
    """Starts spawned children; the fixture kills whichever is still alive after the test."""

    def __init__(self) -> None:
        self.started: list[Child] = []

    def start(self, name: str, target: Callable[..., Any], *args: Any) -> Child:
        reports, sender = CTX.Pipe(duplex=False)
        process = CTX.Process(target=_report, args=(sender, target, *args), name=name, daemon=True)
        process.start()
        sender.close()  # the child holds the only sending end: its death is EOF here
        child = Child(process, reports)
        self.started.append(child)
        return child

    def kill_all(self) -> None:
        for child in self.started:
            if child.process.is_alive():
                child.process.kill()
            child.process.join(WAIT)
            child.reports.close()


def _report(sender: Connection, target: Callable[..., Any], *args: Any) -> None:
    try:
        value = target(*args)
    except BaseException:
        sender.send(("error", traceback.format_exc()))
        raise
    sender.send(("ok", value))


@pytest.fixture
def children() -> Iterator[Children]:
    started = Children()
    try:
        yield started
    finally:
        started.kill_all()


# ---- concurrent writers -----------------------------------------------------------------


def _key(writer: int, j: int) -> str:
    return f"w{writer}:{j}"


def _new(writer: int, j: int) -> tuple[int, int, str]:
    return (writer, j, "new")


def _old(writer: int, j: int) -> tuple[int, int, str] | None:
    """The value before the writers ran: stored for the first PREWARMED keys, else none."""
    return (writer, j, "old") if j < PREWARMED else None


def _plan() -> list[tuple[str, Any, Any]]:
    """(key, value before, value after) of every key the writers write."""
    return [(_key(w, j), _old(w, j), _new(w, j)) for w in range(WRITERS) for j in range(PER_WRITER)]


def _write_share(path: str, writer: int, start: Any) -> int:
    with Cache(path) as cache:
        start.wait(WAIT)
        if writer == 0:  # transactions of 50 entries
            for first in range(0, PER_WRITER, 50):
                cache.put_many({_key(writer, j): _new(writer, j) for j in range(first, first + 50)})
        else:
            for j in range(PER_WRITER):
                cache.put(_key(writer, j), _new(writer, j))
    return PER_WRITER


def _read_while_others_write(path: str, start: Any, done: Any) -> int:
    """Reads every key over and over; a key never goes back to its old value once new."""
    plan = _plan()
    became_new: set[str] = set()
    with Cache(path) as cache:

        def check_every_key() -> None:
            for key, old, new in plan:
                value = cache.get(key)
                if key in became_new:
                    assert value == new, f"{key} went back to {value!r} after {new!r}"
                elif value == new:
                    became_new.add(key)
                else:
                    assert value == old, f"{key} is {value!r}, neither {old!r} nor {new!r}"

        check_every_key()  # the old values are now in this process's memory tier
        start.wait(WAIT)
        passes = 0
        deadline = time.monotonic() + WAIT
        while not done.is_set() and time.monotonic() < deadline:
            check_every_key()
            passes += 1
        stale = [key for key, _, new in plan if cache.get(key) != new]
        assert stale == [], f"still old after every writer exited: {stale[:5]}..."
    return passes


def test_writer_processes_all_land_and_no_memory_tier_serves_a_value_they_replaced(
    tmp_path: Path, children: Children
) -> None:
    path = str(tmp_path / "c")
    plan = _plan()
    with Cache(path) as cache:
        cache.put_many({key: old for key, old, _ in plan if old is not None})
        assert all(cache.get(key) == old for key, old, _ in plan if old is not None)
        assert cache.stats().memory_entries == WRITERS * PREWARMED  # the tier is warm

        start, done = CTX.Barrier(WRITERS + 1), CTX.Event()
        reader = children.start("reader", _read_while_others_write, path, start, done)
        writers = [children.start(f"writer {w}", _write_share, path, w, start) for w in range(WRITERS)]
        assert [w.result() for w in writers] == [PER_WRITER] * WRITERS
        done.set()
        reader.result()

        wrong = [(key, cache.get(key)) for key, _, new in plan if cache.get(key) != new]
        assert wrong == []
        assert cache.get_many([key for key, _, _ in plan]) == {key: new for key, _, new in plan}
        assert sorted(cache.keys()) == sorted(key for key, _, _ in plan)
        assert cache.stats().entries == WRITERS * PER_WRITER


# ---- map growth -------------------------------------------------------------------------

SMALL_MAP = 1 << 20
BATCHES, PER_BATCH = 5, 1000  # about 5 MB of 1 KB values: several doublings of a 1 MiB map


def _blob(tag: str, batch: int, i: int) -> str:
    return f"{tag}{batch}:{i}:" + "x" * 1000


def _batch(tag: str, batch: int) -> dict[str, str]:
    return {f"{tag}{batch}:{i}": _blob(tag, batch, i) for i in range(PER_BATCH)}


def _grow(path: str) -> int:
    with Cache(path, map_size=SMALL_MAP) as cache:
        for batch in range(BATCHES):
            cache.put_many(_batch("child", batch))
        cache.put("k", "after")
        return cache.stats().map_size


def _count(path: str) -> int:
    with Cache(path, map_size=SMALL_MAP) as cache:
        return len(cache.keys())


def test_map_growth_by_another_process_is_adopted_by_reads_and_writes(tmp_path: Path, children: Children) -> None:
    path = str(tmp_path / "c")
    with Cache(path, map_size=SMALL_MAP) as cache:
        cache.put("k", "before")
        assert cache.get("k") == "before"
        grower = children.start("grower", _grow, path)
        reads = 0
        while not grower.reports.poll(0) and reads < 10_000_000:  # read while it grows the map
            assert cache.get("k") in ("before", "after")
            assert cache.get("child0:0") in (None, _blob("child", 0, 0))
            reads += 1
        grown = grower.result()
        assert grown >= 4 * SMALL_MAP

        assert cache.get("k") == "after"  # through the memory tier
        for batch in range(BATCHES):
            expected = _batch("child", batch)
            assert cache.get_many(expected) == expected
        for batch in range(BATCHES):  # as much again from this process: its own growth
            cache.put_many(_batch("parent", batch))
        cache.put("k", "parent")
        assert cache.get("parent4:999") == _blob("parent", 4, 999) and cache.get("k") == "parent"
        assert cache.stats().map_size > grown

        # A process opening the grown file with a small map_size takes the file's size.
        assert children.start("counter", _count, path).result() == 2 * BATCHES * PER_BATCH + 1


def test_reader_threads_never_see_a_map_growth_by_another_process(tmp_path: Path, children: Children) -> None:
    # Adopting the growth remaps the file under every transaction of this process: the
    # threads reading meanwhile must neither fail nor read from the old mapping.
    path = str(tmp_path / "c")
    with Cache(path, map_size=SMALL_MAP) as cache:
        cache.put("k", "before")
        errors: list[BaseException] = []
        stop = threading.Event()

        def read(scan: bool) -> None:
            while not stop.is_set() and not errors:
                try:
                    assert cache.get("k") in ("before", "after")
                    assert cache.get("child0:0") in (None, _blob("child", 0, 0))
                    if scan:  # a cursor over every key, and a multi-key read
                        assert "k" in cache.keys()  # noqa: SIM118 - Cache.keys(), not a dict
                        assert cache.get_many(["k"]).keys() == {"k"}
                except BaseException as exc:
                    errors.append(exc)

        readers = [threading.Thread(target=read, args=(n == 0,)) for n in range(4)]
        for thread in readers:
            thread.start()
        try:
            grower = children.start("grower", _grow, path)
            grown = grower.result()
        finally:
            stop.set()
            for thread in readers:
                thread.join(WAIT)
        if errors:
            raise errors[0]
        assert cache.get("k") == "after" and cache.stats().map_size == grown


# ---- reader slots of killed processes ---------------------------------------------------


def _hold_a_read(path: str, inside: Connection, never: Any) -> None:
    shared = env.acquire(path, 1 << 20, durable=False)
    txn = shared.env.begin(db=shared.open_db(b"kv"))  # a read in progress, as inside a get
    assert txn.get(b"sk") is not None
    inside.send("inside")
    never.wait(WAIT)  # killed here


def _open_and_write(path: str) -> int:
    with Cache(path) as cache:
        cache.put("k", "written after the kill")
        return os.getpid()


def _reader_pids(cache: Cache) -> set[int]:
    """The pids holding reader slots of the cache's environment (lmdb's reader list)."""
    shared = env.acquire(cache.path, 1 << 20, durable=False)  # the environment it uses
    try:
        lines = shared.env.readers().splitlines()[1:]  # after the "pid thread txnid" header
    finally:
        env.release(shared)
    return {int(line.split()[0]) for line in lines}


def test_reader_slots_of_a_process_killed_mid_read_are_cleared_by_the_next_open(
    tmp_path: Path, children: Children
) -> None:
    path = str(tmp_path / "c")
    # This process keeps the environment open throughout, so the lock file is never
    # reinitialized by an exclusive first open: only reader_check can clear the slot.
    with Cache(path) as cache:
        cache.put("k", "before")
        inside, inside_sender = CTX.Pipe(duplex=False)
        never = CTX.Event()
        holder = children.start("holder", _hold_a_read, path, inside_sender, never)
        inside_sender.close()
        if inside not in wait([inside, holder.reports], WAIT):
            holder.result()  # raises with the child's traceback
        os.kill(holder.process.pid, signal.SIGKILL)
        holder.process.join(WAIT)
        assert holder.process.exitcode == -signal.SIGKILL
        assert holder.process.pid in _reader_pids(cache)  # its slot outlived it

        opener = children.start("opener", _open_and_write, path).result()
        assert holder.process.pid not in _reader_pids(cache)
        assert opener not in _reader_pids(cache)  # it closed cleanly: slot released
        assert cache.get("k") == "written after the kill"
