"""``import zixir`` is cheap and has no side effects: heavy dependencies load on first use."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import zixir

HEAVY = ("prometheus_client", "lmdb", "msgpack", "psutil", "tqdm", "cronsim", "importlib.metadata", "numpy", "scipy")


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return [name for name in HEAVY if name in json.loads(out.splitlines()[-1])]


def test_importing_zixir_and_reaching_the_supervisor_loads_no_heavy_dependency() -> None:
    assert _loaded_after("import zixir; zixir.Supervisor; zixir.ChildSpec; zixir.whereis") == []


def test_importing_the_resilience_package_loads_no_cache_or_sandbox() -> None:
    probe = (
        "import zixir.resilience, zixir.resilience.retry, sys; "
        "print([m for m in sys.modules if m.startswith(('zixir.cache', 'zixir.sandbox'))])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_component_loads_its_dependencies_on_first_use() -> None:
    assert _loaded_after("import zixir; zixir.Cache") == ["lmdb", "msgpack"]


def test_prometheus_client_is_not_touched_until_metrics_are_imported() -> None:
    code = (
        "import zixir, prometheus_client\nzixir.Supervisor\n"
        "before = [m.name for m in prometheus_client.REGISTRY.collect() if m.name.startswith('zixir')]\n"
        "import zixir.metrics\n"
        "after = [m.name for m in prometheus_client.REGISTRY.collect() if m.name.startswith('zixir')]\n"
        "print(json.dumps([before, after]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", f"import json\n{code}"], capture_output=True, text=True, check=True
    ).stdout
    before, after = json.loads(out)
    assert before == []
    assert "zixir_actor_exits" in after


def test_the_version_comes_from_the_package_metadata() -> None:
    assert zixir.__version__ == version("zixir")


def test_scipy_loads_only_with_zixir_analytics() -> None:
    assert _loaded_after("import zixir; zixir.Cache; zixir.engine") == ["lmdb", "msgpack"]
    assert "scipy" in _loaded_after("import zixir.analytics")
