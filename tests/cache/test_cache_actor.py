"""CacheActor in a supervision tree, expiry sweeps, and cache warming."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.actors.support import WAIT, running
from zixir.actors import ChildSpec, Supervisor
from zixir.cache import Cache, env
from zixir.cache.actor import CacheActor
from zixir.cache.plan import QueryPlan
from zixir.cache.sweep import sweep
from zixir.cache.warming import warm
from zixir.errors import ArgumentTypeError, InvalidArgumentError


class Clock:
    def __init__(self) -> None:
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now


def test_the_proxy_offers_the_cache_operations(tmp_path: Path) -> None:
    ref = CacheActor.start(path=tmp_path)
    proxy = ref.proxy()
    proxy.put("k", {"v": 1}).get()
    assert proxy.get("k").get() == {"v": 1}
    assert proxy.keys().get() == ["k"] and proxy.stats().get().entries == 1
    ref.stop()


def test_clients_keep_working_across_a_crash_and_restart_of_the_actor(tmp_path: Path) -> None:
    Supervisor.start(children=[ChildSpec("cache", CacheActor, kwargs={"path": tmp_path})])
    with Cache(tmp_path) as client:
        client.put("before", 1)
        old = running("cache")
        old.proxy().put.defer(12345, "not a valid key")  # a told message that raises: a crash
        assert old.wait_exit(WAIT).kind == "crash"  # type: ignore[attr-defined]
        new = running("cache")
        assert new.proxy().get("before").get() == 1
        client.put("after", 2)
        assert new.proxy().get("after").get() == 2 and client.get("before") == 1


def test_the_environment_is_closed_when_the_last_user_leaves(tmp_path: Path) -> None:
    ref = CacheActor.start(path=tmp_path, sweep_interval=None)
    ref.proxy().put("k", 1).get()
    path = ref.proxy().stats().get()  # the actor is up and holds the environment
    assert path.entries == 1 and len([p for p in env.open_paths() if p.endswith(tmp_path.name)]) == 1
    ref.stop()
    ref.wait_exit(WAIT)  # type: ignore[attr-defined]
    assert not [p for p in env.open_paths() if p.endswith(tmp_path.name)]


def test_a_sweep_deletes_only_expired_entries(tmp_path: Path) -> None:
    clock = Clock()
    with Cache(tmp_path, clock=clock) as c:
        c.put("short", 1, ttl=1)
        c.put("long", 2, ttl=100)
        c.put("forever", 3)
        clock.now += 2
        assert sweep(c) == 1
        assert c.stats().entries == 2 and c.get("long") == 2


def test_the_actor_sweeps_on_its_interval(tmp_path: Path) -> None:
    clock = Clock()
    swept = threading.Event()

    class Watched(CacheActor):
        def sweep(self) -> int:
            count = super().sweep()
            if count:
                swept.set()
            return count

    ref = Watched.start(path=tmp_path, sweep_interval=0.01, clock=clock)
    ref.proxy().put("k", 1, ttl=1).get()
    clock.now += 5
    assert swept.wait(WAIT)
    assert ref.proxy().stats().get().entries == 0
    ref.stop()


def test_warming_loads_concurrently_and_one_failure_never_stops_the_rest(tmp_path: Path) -> None:
    def loader(key: str) -> int:
        if key == "k3":
            raise LookupError("no such row")
        return int(key[1:]) * 10

    with Cache(tmp_path) as c:
        summary = warm(c, [f"k{i}" for i in range(50)], loader, workers=4)
        assert summary.loaded == 49 and summary.failed == {"k3": "LookupError: no such row"}
        assert summary.seconds >= 0 and c.get("k49") == 490 and "k3" not in c
        with pytest.raises(ValueError, match=r"^workers must be >= 1, got 0$"):
            warm(c, ["k"], loader, workers=0)


def test_bad_options_are_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^sweep_interval must be None or > 0 seconds, got 0$"):
        CacheActor(path=tmp_path, sweep_interval=0)


def test_cache_figures_are_exported_to_prometheus(tmp_path: Path) -> None:
    from zixir.observability.metrics import exposition

    ref = CacheActor.start(path=tmp_path, sweep_interval=None)
    ref.proxy().put("k", 1).get()
    ref.proxy().get("k").get()
    ref.proxy().get("missing").get()
    text = exposition()
    path = ref.proxy().stats().get() and str(tmp_path.resolve())
    assert f'zixir_cache_hits_total{{path="{path}"}} 1.0' in text
    assert f'zixir_cache_misses_total{{path="{path}"}} 1.0' in text
    ref.stop()


def test_cache_warm_runs_loaders_at_once_and_applies_the_default_ttl(tmp_path: Path) -> None:
    together = threading.Barrier(4, timeout=10)  # breaks unless 4 loaders run at once

    def loader(key: str) -> str:
        together.wait()
        return key.upper()

    now = [1_000.0]
    with Cache(tmp_path, default_ttl=10.0, clock=lambda: now[0]) as c:
        summary = c.warm([f"k{i}" for i in range(8)], loader, workers=4)
        assert summary.loaded == 8 and summary.failed == {} and c.get("k7") == "K7"
        now[0] += 11.0
        assert c.get("k7") is None
        with pytest.raises(ValueError, match=r"^ttl must be None or > 0 seconds, got -1$"):
            c.warm(["k"], loader, ttl=-1)


def test_the_proxy_offers_the_table_operations(tmp_path: Path) -> None:
    ref = CacheActor.start(path=tmp_path, sweep_interval=None)
    proxy = ref.proxy()
    rid = proxy.insert("users", {"name": "ada", "age": 36}).get()
    proxy.update("users", rid, {"age": 37}).get()
    assert proxy.query("users", where={"age": (">", 30)}).get() == [{"name": "ada", "age": 37, "_id": rid}]
    ref.stop()


def test_warm_without_a_ttl_applies_the_caches_default_ttl(tmp_path: Path) -> None:
    now = [1_000.0]
    with Cache(tmp_path, default_ttl=10.0, clock=lambda: now[0]) as c:
        assert warm(c, ["k"], str.upper).loaded == 1 and c.get("k") == "K"
        now[0] += 11.0
        assert c.get("k") is None


def test_closing_a_cache_keeps_its_counts_in_the_exported_counters(tmp_path: Path) -> None:
    from zixir.observability.metrics import exposition

    path = str(tmp_path.resolve())
    first, second = Cache(tmp_path), Cache(tmp_path)
    first.put("k", 1)
    assert first.get("k") == 1 and first.get("nothing") is None
    assert second.get("k") == 1
    first.close()
    assert second.get("k") == 1
    text = exposition()
    assert f'zixir_cache_hits_total{{path="{path}"}} 3.0' in text
    assert f'zixir_cache_misses_total{{path="{path}"}} 1.0' in text
    second.close()
    assert f'zixir_cache_hits_total{{path="{path}"}} 3.0' in exposition()


@pytest.mark.parametrize(
    ("arguments", "error", "argument"),
    [
        ({"sweep_interval": math.nan}, InvalidArgumentError, "sweep_interval"),
        ({"sweep_interval": math.inf}, InvalidArgumentError, "sweep_interval"),
        ({"sweep_interval": -1.0}, InvalidArgumentError, "sweep_interval"),
        ({"sweep_interval": "60"}, ArgumentTypeError, "sweep_interval"),
        ({"memory_items": -5}, InvalidArgumentError, "memory_items"),
        ({"default_ttl": math.nan}, InvalidArgumentError, "default_ttl"),
        ({"map_size": 10}, InvalidArgumentError, "map_size"),
        ({"memory_itmes": 5}, ArgumentTypeError, "memory_itmes"),
        ({"durable": 1}, ArgumentTypeError, "durable"),
        ({"clock": 5.0}, ArgumentTypeError, "clock"),
    ],
)
def test_bad_actor_arguments_are_refused_when_the_actor_is_built(
    tmp_path: Path, arguments: dict[str, Any], error: type[Exception], argument: str
) -> None:
    with pytest.raises(error) as caught:
        CacheActor(path=tmp_path, **arguments)
    assert caught.value.argument == argument  # type: ignore[attr-defined]
    assert argument in str(caught.value)


def test_the_proxy_explains_queries(tmp_path: Path) -> None:
    ref = CacheActor.start(path=tmp_path, sweep_interval=None)
    proxy = ref.proxy()
    proxy.insert("users", {"name": "ada"}).get()
    proxy.create_index("users", "name").get()
    assert proxy.explain("users", {"name": "ada"}).get() == QueryPlan("users", "index", "name", 1)
    assert proxy.sweep().get() == 0
    ref.stop()
