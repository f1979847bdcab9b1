"""Joining a cluster: `zixir.ray.connect`, `connected`, and placements turned into options."""

from __future__ import annotations

import socket

import pytest

import zixir.ray as zray
from zixir.errors import ArgumentTypeError, InvalidArgumentError, RayConnectionError
from zixir.ray import RayPlacement

ray = pytest.importorskip("ray")


def test_connect_joins_the_head_by_address_and_is_idempotent(ray_cluster: str) -> None:
    first = zray.connect(ray_cluster)
    assert zray.connect(ray_cluster) is first
    assert zray.connect() is first  # no address: the connection already made
    assert zray.connected() is first
    assert first.local is False and first.requested == ray_cluster
    assert first.resources()["CPU"] == 2.0


def test_connect_to_another_address_while_connected_says_to_disconnect_first(ray_cluster: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"already connected .* zixir\.ray\.disconnect\(\)"):
        zray.connect("127.0.0.1:1")


def test_connect_refuses_an_empty_address() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^address must be"):
        zray.connect("  ")


def test_placement_becomes_ray_options_and_pins_a_node_by_address(ray_cluster: str) -> None:
    placement = RayPlacement(num_cpus=0.5, memory="1GB", resources={"slot": 1}, runtime_env={"env_vars": {"A": "1"}})
    assert placement.ray_options() == {
        "num_cpus": 0.5,
        "memory": 1_000_000_000,
        "resources": {"slot": 1.0},
        "runtime_env": {"env_vars": {"A": "1"}},
    }
    (node,) = [n for n in ray.nodes() if n["Alive"]]
    by_address = RayPlacement(node=node["NodeManagerAddress"]).ray_options()["scheduling_strategy"]
    assert by_address.node_id == node["NodeID"] and by_address.soft is False
    with pytest.raises(InvalidArgumentError, match=r"no alive node has the address '10\.9\.9\.9'; alive nodes: "):
        RayPlacement(node="10.9.9.9").ray_options()


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"num_cpus": -1}, InvalidArgumentError, r"num_cpus must be a finite number >= 0"),
        ({"num_gpus": "one"}, ArgumentTypeError, r"num_gpus must be a number"),
        ({"memory": "lots"}, InvalidArgumentError, r"RayPlacement memory must be"),
        ({"resources": {"CPU": 1}}, InvalidArgumentError, r"'CPU' is not a custom resource; use num_cpus"),
        ({"resources": [("a", 1)]}, ArgumentTypeError, r"resources must be a mapping"),
        ({"node": ""}, InvalidArgumentError, r"node must be a Ray node id or an IP address"),
        ({"runtime_env": "pip"}, ArgumentTypeError, r"runtime_env must be a mapping"),
    ],
)
def test_placement_rejects_bad_arguments_by_name(
    kwargs: dict[str, object], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        RayPlacement(**kwargs)  # type: ignore[arg-type]


def test_placement_repr_shows_what_was_asked() -> None:
    assert repr(RayPlacement(num_gpus=1, resources={"a": 2})) == "RayPlacement(num_gpus=1.0, resources={'a': 2.0})"


def test_connect_to_an_address_where_nothing_listens_fails_fast_with_the_fix() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(
        RayConnectionError, match=rf"^no Ray cluster answers at 127\.0\.0\.1:{port} \(.*`ray start --head"
    ):
        zray.connect(f"127.0.0.1:{port}")
    assert zray.connected() is None
