"""Cache tables: ids, records, where-queries, ordering and indexes that avoid scans."""

from __future__ import annotations

import itertools
import math
import operator
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zixir.cache import Cache
from zixir.cache.plan import QueryPlan
from zixir.errors import CacheError, RecordNotFoundError, SerializationError

ROOT = Path(__file__).resolve().parents[2]
PEOPLE: list[dict[str, Any]] = [
    {"name": "ada", "age": 36, "city": "london"},
    {"name": "bob", "age": 25, "city": "paris", "pair": (1, 2)},
    {"name": "cy", "age": 41.5},
    {"name": "di", "age": "unknown", "city": "paris"},
    {"name": "ed", "age": None, "city": "rome"},
]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Cache]:
    with Cache(tmp_path / "db") as cache:
        yield cache


@pytest.fixture
def people(db: Cache) -> Cache:
    for person in PEOPLE:
        db.insert("people", person)
    return db


def names(records: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in records]


# ---- ids and records -------------------------------------------------------------------


def test_ids_ascend_per_table_and_survive_a_reopen_without_reuse(tmp_path: Path) -> None:
    with Cache(tmp_path) as db:
        assert [db.insert("a", {"n": i}) for i in range(3)] == [1, 2, 3]
        assert db.insert("b", {"n": 0}) == 1
        assert db.delete_record("a", 3)
    with Cache(tmp_path) as db:
        assert db.insert("a", {"n": 3}) == 4
        assert db.get_record("a", 1) == {"n": 0, "_id": 1}
        assert [r["_id"] for r in db.query("a")] == [1, 2, 4]


def test_get_update_and_delete_a_record(db: Cache) -> None:
    rid = db.insert("t", {"x": 1, "when": (2026, 1), "tags": {"a"}})
    assert db.get_record("t", rid) == {"x": 1, "when": (2026, 1), "tags": {"a"}, "_id": rid}
    assert db.update("t", rid, {"x": 2, "y": b"z"}) == {
        "x": 2, "when": (2026, 1), "tags": {"a"}, "y": b"z", "_id": rid,
    }  # fmt: skip
    record = db.get_record("t", rid)
    assert record is not None and type(record["when"]) is tuple
    record["x"] = 3  # a record read back, changed, and passed whole (with its own _id)
    assert db.update("t", rid, record)["x"] == 3
    assert db.delete_record("t", rid) is True
    assert db.delete_record("t", rid) is False
    assert db.get_record("t", rid) is None
    assert db.get_record("nothing", 1) is None
    assert db.get_record("t", -1) is None


def test_updating_a_missing_record_names_the_table_and_id(db: Cache) -> None:
    rid = db.insert("t", {"x": 1})
    db.delete_record("t", rid)
    for missing in (7, rid, 0):  # never inserted, deleted, and no record's id at all
        message = (
            rf"^table 't' has no record {missing}; update needs an id that insert returned "
            r"and that was not deleted \(query\('t'\) lists the records\)$"
        )
        with pytest.raises(RecordNotFoundError, match=message) as caught:
            db.update("t", missing, {"x": 2})
        assert isinstance(caught.value, KeyError)
        assert (caught.value.table, caught.value.id) == ("t", missing)
    assert db.query("t") == []  # nothing was written


def test_id_is_not_a_storable_field(db: Cache) -> None:
    message = (
        r"^'_id' cannot be a field of the record: it is the record id, which insert assigns "
        r"and get_record and query add to each record; remove it$"
    )
    with pytest.raises(ValueError, match=message):
        db.insert("t", {"_id": 5, "x": 1})
    rid = db.insert("t", {"x": 1})
    with pytest.raises(ValueError, match=r"^'_id' cannot be a field of the changes: "):
        db.update("t", rid, {"_id": rid + 1})
    with pytest.raises(ValueError, match=r"^'_id' needs no index: "):
        db.create_index("t", "_id")
    assert db.query("t") == [{"x": 1, "_id": rid}]


def test_bad_arguments_get_typed_errors_and_nothing_is_written(db: Cache) -> None:
    with pytest.raises(TypeError, match=r"^table names are str, got int 5$"):
        db.insert(5, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^table names are 1 to 400 UTF-8 bytes"):
        db.insert("", {})
    with pytest.raises(TypeError, match=r"^field names are str, got int 1 in the record$"):
        db.insert("t", {1: "x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"^record ids are int, got str '1'$"):
        db.get_record("t", "1")  # type: ignore[arg-type]
    with pytest.raises(SerializationError):
        db.insert("t", {"x": object()})
    with pytest.raises(ValueError, match=r"^limit must be None or an int >= 0, got -1$"):
        db.query("t", limit=-1)
    assert db.query("t") == []


def test_records_of_a_closed_cache_cannot_be_used(tmp_path: Path) -> None:
    db = Cache(tmp_path)
    db.close()
    with pytest.raises(CacheError, match=r"is closed$"):
        db.insert("t", {"x": 1})


# ---- where ---------------------------------------------------------------------------


def test_every_operator_compares_like_python_and_incomparable_values_never_match(
    people: Cache,
) -> None:
    def q(cond: Any) -> list[str]:
        return names(people.query("people", {"age": cond}))

    assert q(36) == q(("==", 36)) == ["ada"]
    assert q(("!=", 36)) == ["bob", "cy", "di", "ed"]
    assert q(("<", 36)) == ["bob"]  # "unknown" and None are not compared with numbers
    assert q(("<=", 36)) == ["ada", "bob"]
    assert q((">", 36)) == ["cy"]
    assert q((">=", 36)) == ["ada", "cy"]
    assert q(("in", [25, "unknown", 99])) == ["bob", "di"]
    assert q(("in", {41.5})) == ["cy"]
    assert q((">", "a")) == ["di"]
    assert q(None) == ["ed"]
    assert names(people.query("people", {"city": "paris", "age": ("<", 30)})) == ["bob"]


def test_a_missing_field_matches_only_not_equal(people: Cache) -> None:
    assert names(people.query("people", {"city": ("!=", "paris")})) == ["ada", "cy", "ed"]
    assert names(people.query("people", {"city": ("<", "zz")})) == ["ada", "bob", "di", "ed"]
    assert names(people.query("people", {"city": ("in", ["paris", None])})) == ["bob", "di"]


def test_equal_to_a_tuple_matches_a_stored_tuple_exactly(people: Cache) -> None:
    rid = people.insert("people", {"name": "fi", "pair": [1, 2]})
    assert names(people.query("people", {"pair": ("==", (1, 2))})) == ["bob"]
    assert names(people.query("people", {"pair": (1, 2)})) == ["bob"]  # first item not a str
    assert names(people.query("people", {"pair": [1, 2]})) == ["fi"]
    assert people.query("people", {"_id": rid})[0]["name"] == "fi"


def test_an_unknown_operator_lists_the_valid_ones(people: Cache) -> None:
    message = (
        r"^unknown operator '=~' for field 'name'; use one of ==, !=, <, <=, >, >=, in "
        r"\(to match a stored tuple, write \('==', \('=~', 'a'\)\)\)$"
    )
    with pytest.raises(ValueError, match=message):
        people.query("people", {"name": ("=~", "a")})
    with pytest.raises(ValueError, match=r"^'in' for field 'age' takes a list, tuple or set of values, got int 3$"):
        people.query("people", {"age": ("in", 3)})


# ---- order, limit, offset ------------------------------------------------------------


def test_order_by_sorts_missing_fields_last_and_mixed_types_by_kind(people: Cache) -> None:
    assert names(people.query("people", order_by="city")) == ["ada", "bob", "di", "ed", "cy"]
    by_city = people.query("people", order_by="city", descending=True)
    assert names(by_city) == ["ed", "bob", "di", "ada", "cy"]  # ties keep id order
    # None, then numbers, then str; never a TypeError
    assert names(people.query("people", order_by="age")) == ["ed", "bob", "ada", "cy", "di"]


def test_limit_and_offset_apply_after_filtering_and_ordering(people: Cache) -> None:
    ordered = people.query("people", {"age": ("!=", None)}, order_by="name", descending=True)
    assert names(ordered) == ["di", "cy", "bob", "ada"]
    page = people.query("people", {"age": ("!=", None)}, order_by="name", descending=True, limit=2, offset=1)
    assert names(page) == ["cy", "bob"]
    assert names(people.query("people", limit=2, offset=3)) == ["di", "ed"]
    assert people.query("people", limit=0) == []
    assert people.query("people", offset=10) == []


# ---- indexes -------------------------------------------------------------------------


def test_an_index_follows_inserts_updates_and_deletes(people: Cache) -> None:
    people.create_index("people", "age")
    people.create_index("people", "age")  # again: nothing to do
    bob = people.query("people", {"name": "bob"})[0]["_id"]
    people.update("people", bob, {"age": 50})
    assert people.query("people", {"age": 25}) == []
    assert names(people.query("people", {"age": (">", 40)})) == ["bob", "cy"]
    assert str(people.explain("people", {"age": (">", 40)})) == "index age"
    people.update("people", bob, {"name": "bob", "age": "old"})  # a str now
    assert names(people.query("people", {"age": ("in", ["old", 36])})) == ["ada", "bob"]
    people.delete_record("people", bob)
    assert names(people.query("people", {"age": ("in", ["old", 36])})) == ["ada"]
    gus = people.insert("people", {"name": "gus", "age": 36.0})
    assert names(people.query("people", {"age": 36})) == ["ada", "gus"]
    people.update("people", gus, {"name": "gus"})  # the index entry stays as the value does
    assert names(people.query("people", {"age": ("<=", 36)})) == ["ada", "gus"]
    assert people.explain("people", {"age": ("<=", 36)}).reads == 2


def test_indexes_persist_and_answer_across_reopens(tmp_path: Path) -> None:
    with Cache(tmp_path) as db:
        for i in range(20):
            db.insert("t", {"n": i})
        db.create_index("t", "n")
    with Cache(tmp_path) as db:
        assert [r["n"] for r in db.query("t", {"n": (">=", 17)})] == [17, 18, 19]
        assert db.explain("t", {"n": (">=", 17)}) == QueryPlan("t", "index", "n", 3)
        db.insert("t", {"n": 100})
        assert [r["n"] for r in db.query("t", {"n": (">", 19)})] == [100]


def test_index_keys_keep_big_ints_long_strings_nul_bytes_and_odd_types_exact(db: Cache) -> None:
    big = 2**53
    long_a, long_b = "x" * 600 + "a", "x" * 600 + "b"
    values = [big, big + 1, float(big), long_a, long_b, "a\x00b", "a", "a\x00", b"\x00", b"",
              True, 1, -0.0, 0, math.inf, math.nan, (1, 2), None]  # fmt: skip
    for v in values:
        db.insert("t", {"v": v})
    db.create_index("t", "v")
    for v in values:
        for op in ["==", "<", "<=", ">", ">="]:
            indexed = [r["_id"] for r in db.query("t", {"v": (op, v)})]
            # every one of these values has index key ranges (tuples: the catch-all tag)
            assert str(db.explain("t", {"v": (op, v)})) == "index v", (op, v)
            expected = [i for i, have in enumerate(values, start=1) if _model_match({"v": have}, "v", op, v)]
            assert indexed == expected, (op, v)
    assert [r["v"] for r in db.query("t", {"v": big + 1})] == [big + 1]
    # the two long strings share an index key, and the catch-all tuple is always re-checked
    assert len(db.query("t", {"v": long_a})) == 1 and db.explain("t", {"v": long_a}).reads == 3


def test_an_indexed_query_for_ten_records_decodes_ten_not_ten_thousand(db: Cache) -> None:
    for i in range(10_000):
        db.insert("t", {"n": i, "group": i % 1000, "name": f"item{i:05}"})
    assert len(db.query("t", {"group": 7})) == 10
    assert db.explain("t", {"group": 7}) == QueryPlan("t", "scan", None, 10_000)
    db.create_index("t", "group")
    db.create_index("t", "name")
    queries: list[dict[str, Any]] = [
        {"group": 7},
        {"group": ("in", [7, 8])},
        {"group": ("<", 1)},
        {"name": ("<", "item00010")},
        {"name": (">=", "item09990")},
    ]
    for where in queries:
        found = db.query("t", where)
        assert len(found) in (10, 20)
        plan = db.explain("t", where)
        assert plan.reads == len(found), where
        assert plan.access == "index" and plan.index == next(iter(where)), where
    assert [r["n"] for r in db.query("t", {"_id": ("in", [5, 6])})] == [4, 5]
    assert db.explain("t", {"_id": ("in", [5, 6])}) == QueryPlan("t", "ids", None, 2)


def test_two_caches_on_one_path_see_each_others_records_and_indexes(tmp_path: Path) -> None:
    with Cache(tmp_path) as first, Cache(tmp_path) as second:
        assert first.query("t") == []
        first.insert("t", {"k": 1})
        second.create_index("t", "k")
        second.insert("t", {"k": 2})
        assert [r["k"] for r in first.query("t", {"k": ("<", 5)})] == [1, 2]
        assert str(first.explain("t", {"k": ("<", 5)})) == "index k"


def test_another_process_sees_the_same_tables_and_indexes(tmp_path: Path) -> None:
    with Cache(tmp_path) as db:
        db.insert("t", {"k": "parent"})
        code = (
            "import sys; from zixir import Cache\n"
            "with Cache(sys.argv[1]) as db:\n"
            "    db.create_index('t', 'k')\n"
            "    print(db.insert('t', {'k': 'child'}))\n"
        )
        child = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)],
            capture_output=True, text=True, timeout=60, check=True, cwd=ROOT,
        )  # fmt: skip
        assert child.stdout.strip() == "2"
        assert db.query("t", {"k": "child"}) == [{"k": "child", "_id": 2}]
        assert db.explain("t", {"k": "child"}) == QueryPlan("t", "index", "k", 1)
        assert db.insert("t", {"k": "parent"}) == 3


def test_threads_inserting_at_once_get_distinct_ascending_ids(db: Cache) -> None:
    db.create_index("t", "thread")
    ids: list[int] = []

    def work(n: int) -> None:
        ids.extend(db.insert("t", {"thread": n, "i": i}) for i in range(100))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ids) == list(range(1, 401))
    assert all(len(db.query("t", {"thread": n})) == 100 for n in range(4))


def test_more_indexes_than_the_environment_holds_is_a_clear_error(db: Cache) -> None:
    db.insert("t", {"f0": 1})
    with pytest.raises(CacheError, match=r"named databases \(one per index, max_dbs in "):
        for i in range(100):
            db.create_index("t", f"f{i}")
    assert db.insert("t", {"f0": 1}) == 2  # the indexes made so far keep working
    assert [r["_id"] for r in db.query("t", {"f0": 1})] == [1, 2]
    assert str(db.explain("t", {"f0": 1})) == "index f0"


def test_writes_grow_a_full_map(tmp_path: Path) -> None:
    with Cache(tmp_path, map_size=1 << 20) as db:
        db.create_index("t", "n")
        for i in range(300):
            db.insert("t", {"n": i, "blob": b"x" * 8000})
        assert len(db.query("t", {"n": (">=", 150)})) == 150
        assert db.stats().map_size > 1 << 20


# ---- indexed and unindexed queries agree with a model ----------------------------------


def _model_match(record: dict[str, Any], field: str, op: str, value: Any) -> bool:
    if field not in record:
        return op == "!="
    ops = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge}  # fmt: skip
    try:
        if op == "in":
            return any(record[field] == v for v in value)
        return bool(ops[op](record[field], value))
    except TypeError:
        return op == "!="


# Small domains, so that records and conditions often meet at the same values.
values = st.one_of(
    st.none(),
    st.integers(-2, 2),
    st.sampled_from([2**53, 2**53 + 1, -(2**60)]),
    st.sampled_from([-1.5, 0.0, -0.0, 2.0, 2.0**53, math.nan, math.inf]),
    st.text(alphabet="ab\x00", max_size=2),
    st.booleans(),
    st.tuples(st.integers(0, 1)),  # the catch-all index tag
)
records = st.dictionaries(st.sampled_from("abc"), values, max_size=3)
conditions = st.one_of(
    values,
    st.tuples(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), values),
    st.tuples(st.just("in"), st.lists(values, max_size=3)),
)
wheres = st.dictionaries(st.sampled_from("abc"), conditions, min_size=1, max_size=2)
_paths = itertools.count()


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(records, max_size=12),
    changes=st.lists(st.tuples(st.integers(0, 11), records), max_size=4),
    deletions=st.lists(st.integers(0, 11), max_size=3),
    queries=st.lists(wheres, min_size=1, max_size=4),
)
def test_indexed_and_unindexed_queries_match_a_python_filter(
    tmp_path: Path,
    rows: list[dict[str, Any]],
    changes: list[tuple[int, dict[str, Any]]],
    deletions: list[int],
    queries: list[dict[str, Any]],
) -> None:
    # A path per example: a path's environment holds a bounded number of indexes.
    with Cache(tmp_path / str(next(_paths)), memory_items=0) as db:
        _check_against_model(db, rows, changes, deletions, queries)


def _check_against_model(
    db: Cache,
    rows: list[dict[str, Any]],
    changes: list[tuple[int, dict[str, Any]]],
    deletions: list[int],
    queries: list[dict[str, Any]],
) -> None:
    indexed, plain = "indexed", "plain"
    db.create_index(indexed, "a")  # maintained from the first insert
    model: dict[int, dict[str, Any]] = {}
    for row in rows:
        model[db.insert(indexed, row)] = dict(row)
        db.insert(plain, row)
    db.create_index(indexed, "b")  # built over existing records, then maintained
    for at, change in changes:
        if at < len(rows):
            db.update(indexed, at + 1, change)
            db.update(plain, at + 1, change)
            model[at + 1].update(change)
    for at in deletions:
        assert db.delete_record(indexed, at + 1) == db.delete_record(plain, at + 1)
        model.pop(at + 1, None)
    for where in queries:
        expected = [
            rid
            for rid, record in sorted(model.items())
            if all(
                _model_match(record, f, *(c if type(c) is tuple and len(c) == 2 and
                                          isinstance(c[0], str) else ("==", c)))
                for f, c in where.items()
            )
        ]  # fmt: skip
        assert [r["_id"] for r in db.query(indexed, where)] == expected
        assert [r["_id"] for r in db.query(plain, where)] == expected
